//! Tokens, never passwords, kept in the OS keyring; where no keyring service
//! runs (a server, a container, CI), in a 0600 file in the home, and
//! `status` says so.

use anyhow::Context;

use crate::home::{write_atomic, Config, Home, TokenStore};
use crate::remote::Tokens;

const SERVICE: &str = "nubo";

fn entry(home: &Home, config: &Config) -> keyring::Result<keyring::Entry> {
    let user = format!(
        "{}@{} ({})",
        config.account_id.as_deref().unwrap_or("?"),
        config.server.as_deref().unwrap_or("?"),
        home.dir.display()
    );
    keyring::Entry::new(SERVICE, &user)
}

fn keyring_save(home: &Home, config: &Config, tokens: &Tokens) -> keyring::Result<()> {
    let e = entry(home, config)?;
    let secret = serde_json::to_string(tokens).expect("tokens serialise");
    e.set_password(&secret)?;
    // Some backends accept a write and keep nothing; only a read-back counts.
    match e.get_password() {
        Ok(back) if back == secret => Ok(()),
        Ok(_) => Err(keyring::Error::NoEntry),
        Err(e) => Err(e),
    }
}

/// Saves where it can: the keyring first, unless `NUBO_TOKEN_STORE=file`.
pub fn save(home: &Home, config: &Config, tokens: &Tokens) -> anyhow::Result<TokenStore> {
    let want_file = std::env::var("NUBO_TOKEN_STORE").is_ok_and(|v| v == "file");
    let preferred = config.token_store;
    if !want_file && preferred != Some(TokenStore::File) {
        match keyring_save(home, config, tokens) {
            Ok(()) => {
                let _ = std::fs::remove_file(home.credentials_path());
                return Ok(TokenStore::Keyring);
            }
            Err(e) => {
                tracing::warn!(
                    "no usable keyring ({e}); keeping tokens in a private file in the home"
                );
            }
        }
    }
    let bytes = serde_json::to_vec(tokens)?;
    write_atomic(&home.credentials_path(), &bytes, true)?;
    Ok(TokenStore::File)
}

pub fn load(home: &Home, config: &Config) -> anyhow::Result<Tokens> {
    match config.token_store {
        Some(TokenStore::Keyring) => {
            let secret = entry(home, config).and_then(|e| e.get_password()).context(
                "the sign-in tokens are missing from the keyring; sign in again with `nubo login`",
            )?;
            Ok(serde_json::from_str(&secret)?)
        }
        Some(TokenStore::File) => {
            let path = home.credentials_path();
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "cannot read {}; sign in again with `nubo login`",
                    path.display()
                )
            })?;
            Ok(serde_json::from_str(&text)?)
        }
        None => {
            anyhow::bail!("not signed in: run `nubo login SERVER ACCOUNT --password-stdin` first")
        }
    }
}

pub fn delete(home: &Home, config: &Config) {
    if config.token_store == Some(TokenStore::Keyring) {
        if let Ok(e) = entry(home, config) {
            let _ = e.delete_credential();
        }
    }
    let _ = std::fs::remove_file(home.credentials_path());
}
