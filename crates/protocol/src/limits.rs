//! The bounds of every string and list a request may carry. The service
//! refuses a request past any of them before doing anything with it
//! (`Bounded`), and its OpenAPI document states each one (`maxLength`,
//! `maxItems`), so a client or a fuzzer knows them in advance.

use std::fmt;

use crate::*;

/// A file or folder name on the disk, in bytes (as `names::check_name`
/// counts them: the bytes a spelling stands for).
pub const DISK_NAME_BYTES: usize = 255;
/// A file or folder name as a request spells it, in bytes: a name's bytes
/// that are not UTF-8 take 4 each in its spelling (`spelling`), so this is
/// what the longest name on the disk can take.
pub const NAME_BYTES: usize = 4 * DISK_NAME_BYTES;
/// An account ID or a phone number.
pub const LOGIN_BYTES: usize = 254;
pub const PASSWORD_BYTES: usize = 1024;
/// A device's name, as the device list shows it.
pub const DEVICE_NAME_BYTES: usize = 255;
/// A device's operating system (`linux`, `windows`, `macos`).
pub const OS_BYTES: usize = 32;
/// A refresh token or a device code (the service's are 64 characters).
pub const TOKEN_BYTES: usize = 128;
/// A sign-in code as a person types it (`ABCD-EFGH`, with spaces).
pub const USER_CODE_BYTES: usize = 32;
/// A chunk's or a file's BLAKE3 hash, hex.
pub const HASH_BYTES: usize = 64;
/// An agreement's id, version or locale.
pub const AGREEMENT_FIELD_BYTES: usize = 64;
/// Agreements accepted, or declined, in one request.
pub const ACCEPTANCES: usize = 32;
/// Chunks of one file: about 150 GB at the client's average chunk size,
/// and a commit that lists them still fits in one request body.
pub const CHUNKS_PER_FILE: usize = 150_000;
/// A path from the top folder (`GET /v1/lookup`): the 4096 bytes of a path
/// on the disk, spelled (4 bytes for each byte that is not UTF-8).
pub const PATH_BYTES: usize = 4 * 4096;
/// A search of the trash.
pub const QUERY_BYTES: usize = 255;

/// A string or a list longer than its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBound {
    /// The field, as the request names it.
    pub field: &'static str,
    pub limit: usize,
    /// A list with more items than `limit`; otherwise a string of more
    /// than `limit` bytes.
    pub items: bool,
}

impl fmt::Display for OverBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.items {
            write!(f, "{} holds more than {} items", self.field, self.limit)
        } else {
            write!(f, "{} is longer than {} bytes", self.field, self.limit)
        }
    }
}

/// A request whose strings and lists can be checked against their bounds.
pub trait Bounded {
    fn check_bounds(&self) -> Result<(), OverBound>;
}

pub fn text(field: &'static str, value: &str, limit: usize) -> Result<(), OverBound> {
    if value.len() > limit {
        return Err(OverBound {
            field,
            limit,
            items: false,
        });
    }
    Ok(())
}

pub fn list<T>(field: &'static str, value: &[T], limit: usize) -> Result<(), OverBound> {
    if value.len() > limit {
        return Err(OverBound {
            field,
            limit,
            items: true,
        });
    }
    Ok(())
}

fn hashes(field: &'static str, value: &[String]) -> Result<(), OverBound> {
    list(field, value, MAX_BATCH)?;
    value.iter().try_for_each(|h| text(field, h, HASH_BYTES))
}

impl Bounded for LoginRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        text("login", &self.login, LOGIN_BYTES)?;
        text("password", &self.password, PASSWORD_BYTES)?;
        text("device_name", &self.device_name, DEVICE_NAME_BYTES)?;
        text("os", &self.os, OS_BYTES)
    }
}

impl Bounded for RefreshRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        text("refresh_token", &self.refresh_token, TOKEN_BYTES)
    }
}

impl Bounded for DeviceCodeRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        text("device_name", &self.device_name, DEVICE_NAME_BYTES)?;
        text("os", &self.os, OS_BYTES)
    }
}

impl Bounded for DeviceTokenRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        text("device_code", &self.device_code, TOKEN_BYTES)
    }
}

impl Bounded for ApproveRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        text("user_code", &self.user_code, USER_CODE_BYTES)
    }
}

impl Bounded for CancelRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        text("confirm", &self.confirm, LOGIN_BYTES)
    }
}

impl Bounded for PasswordChange {
    fn check_bounds(&self) -> Result<(), OverBound> {
        text("current", &self.current, PASSWORD_BYTES)?;
        text("new", &self.new, PASSWORD_BYTES)
    }
}

/// Documents as the user was shown them (accepted or declined).
fn documents(field: &'static str, value: &[AcceptItem]) -> Result<(), OverBound> {
    list(field, value, ACCEPTANCES)?;
    value.iter().try_for_each(|a| {
        text("id", &a.id, AGREEMENT_FIELD_BYTES)?;
        text("version", &a.version, AGREEMENT_FIELD_BYTES)?;
        text("locale", &a.locale, AGREEMENT_FIELD_BYTES)
    })
}

impl Bounded for AcceptRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        documents("acceptances", &self.acceptances)
    }
}

impl Bounded for DeclineRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        documents("documents", &self.documents)
    }
}

impl Bounded for WithdrawRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        text("id", &self.id, AGREEMENT_FIELD_BYTES)
    }
}

impl Bounded for MkdirRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        text("name", &self.name, NAME_BYTES)
    }
}

impl Bounded for CommitRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        text("name", &self.name, NAME_BYTES)?;
        text("hash", &self.hash, HASH_BYTES)?;
        list("chunks", &self.chunks, CHUNKS_PER_FILE)?;
        self.chunks
            .iter()
            .try_for_each(|c| text("hash", &c.hash, HASH_BYTES))
    }
}

impl Bounded for CommitBatchRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        list("commits", &self.commits, MAX_BATCH)?;
        self.commits.iter().try_for_each(Bounded::check_bounds)
    }
}

impl Bounded for MoveRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        text("name", &self.name, NAME_BYTES)
    }
}

impl Bounded for DeleteRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        Ok(())
    }
}

impl Bounded for MissingChunksRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        hashes("hashes", &self.hashes)
    }
}

impl Bounded for FetchChunksRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        hashes("hashes", &self.hashes)
    }
}

impl Bounded for RestoreRequest {
    fn check_bounds(&self) -> Result<(), OverBound> {
        text("to_name", self.to_name.as_deref().unwrap_or(""), NAME_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_holds_up_to_its_limit_and_refuses_past_it() {
        let mut req = MkdirRequest {
            parent: 1,
            name: "é".repeat(NAME_BYTES / 2),
        };
        assert_eq!(req.check_bounds(), Ok(()));
        req.name.push_str("xx");
        let over = req.check_bounds().unwrap_err();
        assert_eq!(
            (over.field, over.limit, over.items),
            ("name", NAME_BYTES, false)
        );
        let many = MissingChunksRequest {
            hashes: vec!["a".repeat(64); MAX_BATCH + 1],
        };
        assert!(many.check_bounds().unwrap_err().items);
    }
}
