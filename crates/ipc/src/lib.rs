//! What the desktop app's web front end and its Rust side say to each other.
//! The TypeScript twin (`ui/src/lib/ipc-types.ts`) is generated from these
//! types; a test fails when it is stale.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub mod commands;
pub mod i18n;
pub mod words;

pub use nubo_engine::problem::{IgnoreFileProblem, LocalError, NameRule, OpFailure, Problem};
pub use nubo_engine::report::{
    Failure, LastPass, NetCause, Notice, PassOutcome, Pause, PendingDocument, RecordedChange,
    RootProblem, Storage,
};
pub use nubo_engine::tree::{Blocked, ReadError, Unsynced};

/// Where the first-run wizard stands, or that the app runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Welcome,
    SignIn,
    Agreements,
    Folder,
    Running,
}

/// The tray's state: its icon and the first line of its menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrayState {
    UpToDate,
    Syncing {
        files_left: u32,
        files_total: u32,
        #[ts(type = "number")]
        bytes_left: u64,
        #[ts(type = "number")]
        bytes_total: u64,
    },
    /// Reading new and changed files on this computer (the first scan of
    /// a folder reads all of them) before they can be synced.
    Reading {
        files_left: u32,
        files_total: u32,
        #[ts(type = "number")]
        bytes_left: u64,
        #[ts(type = "number")]
        bytes_total: u64,
    },
    Paused,
    /// The service cannot be reached (and why, for the status window).
    Offline {
        cause: NetCause,
    },
    /// The last pass failed for a reason that is not the network.
    Error {
        failure: Failure,
    },
    /// Sign in, agreements, storage full, frozen account: one action resolves it.
    ActionNeeded {
        need: Need,
    },
}

/// What the user has to do before syncing goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Need {
    SignIn,
    Agreements,
    Folder,
    /// The last pass paused for these (the first is the tray's line).
    Pauses {
        pauses: Vec<Pause>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct AppSnapshot {
    /// Increases with every snapshot: command replies and events reach the
    /// front end by different paths, so it keeps only the newest.
    pub revision: u32,
    pub phase: Phase,
    pub language: String,
    pub server: Option<String>,
    pub account: Option<String>,
    pub tray: TrayState,
    pub status: Option<StatusView>,
    /// Prefilled service address (the demo's, or the build's default).
    pub default_server: String,
    /// Nubo starts when the user logs in (on by default after the wizard).
    pub start_at_login: bool,
    /// Consent to instant change notifications (the optional push terms).
    pub push: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct SignIn {
    pub server: String,
    /// An account ID or a phone number.
    pub login: String,
    pub password: String,
}

/// A sign-in by code waiting for approval from a device already signed in.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct CodeSignIn {
    /// For a person to type: `ABCD-EFGH`.
    pub user_code: String,
    /// The service's approval page.
    pub verification_uri: String,
    /// The page with the code filled in: what the QR code holds.
    pub verification_uri_complete: String,
    /// The QR code of `verification_uri_complete`, as an SVG document.
    pub qr_svg: String,
    #[ts(type = "number")]
    pub expires_in: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SignInProblem {
    WrongCredentials,
    /// Too many wrong passwords for the account or from this address: the
    /// service takes the next try at `retry_at` (Unix seconds).
    TooManyAttempts {
        #[ts(type = "number")]
        retry_at: i64,
    },
    Unreachable,
    BadCertificate,
    InsecureAddress,
    /// Not a sign-in problem: a newer version of an agreement appeared
    /// while the user read it; the screen shows the new one.
    AgreementOutdated,
    Other,
}

/// A failed command: a code the UI turns into a translated sentence, and the
/// underlying message for details.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct CommandError {
    pub problem: Option<SignInProblem>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum Requirement {
    SignIn,
    Sync,
    Optional,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct AgreementSummary {
    pub id: String,
    pub title: String,
    /// The title in each language, by locale.
    pub titles: std::collections::BTreeMap<String, String>,
    pub version: String,
    pub effective: String,
    pub required: Requirement,
    pub locales: Vec<String>,
    pub accepted: bool,
    /// A revision announced for a later date.
    pub upcoming: Option<Upcoming>,
}

/// A revised version published ahead of the date it takes effect.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct Upcoming {
    pub version: String,
    /// `YYYY-MM-DD`.
    pub effective: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct AgreementText {
    pub id: String,
    pub locale: String,
    pub markdown: String,
}

/// One document exactly as the user was shown it.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ShownDocument {
    pub id: String,
    pub version: String,
    pub locale: String,
}

/// What the account's latest record of a document says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Accepted,
    /// Consent to an optional document taken back.
    Withdrawn,
    Declined,
}

/// The account's record of one document, from the service.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct LegalRecord {
    pub kind: RecordKind,
    pub version: String,
    /// The language it was read in (empty for a withdrawal).
    pub locale: String,
    /// Unix seconds.
    #[ts(type = "number")]
    pub at: i64,
    pub age: Age,
    /// The title of that version, by locale.
    pub titles: std::collections::BTreeMap<String, String>,
}

/// A document for the "Privacy and legal" screen: every document the
/// service publishes, whether or not accepted, with this account's record.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct LegalDocument {
    pub id: String,
    /// The title in each language, by locale.
    pub titles: std::collections::BTreeMap<String, String>,
    pub locales: Vec<String>,
    /// The version in force.
    pub version: String,
    pub effective: String,
    pub required: Requirement,
    /// None before sign-in, or when the account never answered it.
    pub record: Option<LegalRecord>,
    pub upcoming: Option<Upcoming>,
}

/// What the account stores on the service: what cancelling deletes.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct AccountSummaryView {
    #[ts(type = "number")]
    pub files: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    #[ts(type = "number")]
    pub trash_files: u64,
    #[ts(type = "number")]
    pub trash_bytes: u64,
    #[ts(type = "number")]
    pub versions: u64,
    #[ts(type = "number")]
    pub version_bytes: u64,
    /// Top-level items not synced to this computer: (path, files, bytes).
    pub only_on_service: Vec<WaitingFolder>,
}

/// Sent as the `nubo://export-progress` event after each file.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ExportProgressView {
    #[ts(type = "number")]
    pub files_done: u64,
    #[ts(type = "number")]
    pub files_total: u64,
    #[ts(type = "number")]
    pub bytes_done: u64,
    #[ts(type = "number")]
    pub bytes_total: u64,
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ExportSummary {
    #[ts(type = "number")]
    pub files: u64,
    #[ts(type = "number")]
    pub unchanged: u64,
    /// One sentence per item not exported.
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct PasswordChangeView {
    pub current: String,
    pub new: String,
    pub sign_out_others: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Age {
    Adult,
    Guardian,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct Acceptance {
    pub age: Age,
    /// Every document accepted, as shown (the push terms among them when
    /// the user consented to instant change notifications).
    pub documents: Vec<ShownDocument>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum SyncMode {
    TwoWay,
    UploadOnly,
    DownloadOnly,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct FolderChoice {
    pub local: String,
    pub remote: String,
    pub mode: SyncMode,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct FolderView {
    pub local: String,
    pub remote: String,
    pub mode: SyncMode,
    /// Selective sync: paths inside the folder that stay on the service only.
    pub excluded: Vec<String>,
    pub paused: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct Conflict {
    pub path: String,
    pub copy: String,
    /// RFC 3339.
    pub at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct RecentChange {
    pub change: RecordedChange,
    /// RFC 3339.
    pub at: String,
    /// The device that made it.
    pub device: String,
    /// The file's path on the service, for "Earlier versions…".
    pub service_path: Option<String>,
}

/// Where the sign-in tokens are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TokenStoreView {
    Keyring,
    /// A 0600 file in the home, where no keyring service exists.
    File,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct AcceptedAgreement {
    pub id: String,
    pub version: String,
    pub locale: String,
    pub age: String,
    pub accepted_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct StatusView {
    /// How the last pass ended; none before the first.
    pub last_pass: Option<LastPass>,
    /// Something that happened once and that the user should know.
    pub notice: Option<Notice>,
    /// The state database cannot be read (it is left as it is; the next
    /// sync rebuilds it).
    pub database_damaged: bool,
    /// Bytes the account stores on the service, as of the last sync.
    #[ts(type = "number | null")]
    pub storage_used: Option<u64>,
    #[ts(type = "number | null")]
    pub storage_quota: Option<u64>,
    pub folders: Vec<FolderView>,
    pub conflicts: Vec<Conflict>,
    pub recent: Vec<RecentChange>,
    /// What the last round left out, and why.
    pub problems: Vec<Problem>,
    pub token_store: Option<TokenStoreView>,
    pub accepted: Vec<AcceptedAgreement>,
    /// What the last pass paused for, with its data. The status window
    /// offers the action that resolves each (a large new folder: download
    /// it or keep it on the service).
    pub pauses: Vec<Pause>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct WaitingFolder {
    /// On the service, e.g. `/photos/2020`.
    pub path: String,
    #[ts(type = "number")]
    pub bytes: u64,
}

/// A folder on the service, for the selective-sync chooser.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct RemoteFolder {
    pub path: String,
    pub excluded: bool,
}

/// A signed-in device of the account.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct DeviceView {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    /// `linux`, `windows`, `macos`, or empty.
    pub os: String,
    /// Unix seconds.
    #[ts(type = "number")]
    pub last_seen: i64,
    pub current: bool,
}

/// Bandwidth limits in kB/s; 0 is unlimited.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, TS)]
pub struct Limits {
    #[ts(type = "number")]
    pub upload_kbps: u64,
    #[ts(type = "number")]
    pub download_kbps: u64,
}

/// One entry of the service's trash: what one delete removed.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct DeletedItem {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    /// Where it was on the service, e.g. `/Docs/report.txt`.
    pub path: String,
    /// The folder it was in, on the service (for grouping).
    pub folder: String,
    pub is_dir: bool,
    #[ts(type = "number")]
    pub size: u64,
    /// Files it holds (1 for a file).
    #[ts(type = "number")]
    pub files: u64,
    /// Unix seconds.
    #[ts(type = "number")]
    pub deleted_at: i64,
    /// The device that deleted it.
    pub device: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct DeletedPage {
    pub items: Vec<DeletedItem>,
    #[ts(type = "number")]
    pub total: u64,
    /// How long the service keeps deleted items.
    pub retention_days: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct VersionView {
    #[ts(type = "number")]
    pub rev: i64,
    #[ts(type = "number")]
    pub size: u64,
    /// When this content was written, Unix seconds.
    #[ts(type = "number")]
    pub at: i64,
    pub device: String,
    /// The file's content now (listed first).
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct FileVersions {
    #[ts(type = "number")]
    pub node: i64,
    pub path: String,
    pub deleted: bool,
    pub versions: Vec<VersionView>,
}

/// One thing to bring back.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct RestoreItem {
    #[ts(type = "number")]
    pub node: i64,
    /// An earlier version of a file; null for a deleted item as it was.
    #[ts(type = "number | null")]
    pub rev: Option<i64>,
    /// With `rev`: beside the current file instead of replacing it.
    pub as_copy: bool,
    /// How the item is named in progress and messages.
    pub label: String,
}

/// Sent as the `nubo://restore-progress` event after each item.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct RestoreProgress {
    pub done: u32,
    pub total: u32,
    pub label: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct RestoreSummary {
    /// Items brought back, and the files they hold.
    pub restored: u32,
    #[ts(type = "number")]
    pub files: u64,
    /// Where they are now on the service.
    pub paths: Vec<String>,
    /// One sentence per item that could not be restored.
    pub failed: Vec<String>,
}

/// The TypeScript declarations of every type above, in one file.
pub fn typescript() -> String {
    let decls = [
        Blocked::decl(),
        ReadError::decl(),
        Unsynced::decl(),
        NameRule::decl(),
        IgnoreFileProblem::decl(),
        LocalError::decl(),
        OpFailure::decl(),
        Problem::decl(),
        PendingDocument::decl(),
        RootProblem::decl(),
        Storage::decl(),
        Pause::decl(),
        NetCause::decl(),
        Failure::decl(),
        PassOutcome::decl(),
        LastPass::decl(),
        RecordedChange::decl(),
        Notice::decl(),
        Phase::decl(),
        Need::decl(),
        TrayState::decl(),
        AppSnapshot::decl(),
        SignIn::decl(),
        SignInProblem::decl(),
        CodeSignIn::decl(),
        CommandError::decl(),
        Requirement::decl(),
        AgreementSummary::decl(),
        Upcoming::decl(),
        AgreementText::decl(),
        ShownDocument::decl(),
        RecordKind::decl(),
        LegalRecord::decl(),
        LegalDocument::decl(),
        AccountSummaryView::decl(),
        ExportProgressView::decl(),
        ExportSummary::decl(),
        PasswordChangeView::decl(),
        Age::decl(),
        Acceptance::decl(),
        SyncMode::decl(),
        FolderChoice::decl(),
        FolderView::decl(),
        Conflict::decl(),
        RecentChange::decl(),
        TokenStoreView::decl(),
        AcceptedAgreement::decl(),
        StatusView::decl(),
        WaitingFolder::decl(),
        RemoteFolder::decl(),
        Limits::decl(),
        DeviceView::decl(),
        DeletedItem::decl(),
        DeletedPage::decl(),
        VersionView::decl(),
        FileVersions::decl(),
        RestoreItem::decl(),
        RestoreProgress::decl(),
        RestoreSummary::decl(),
    ];
    let mut out = String::from(
        "// Generated from crates/ipc by `UPDATE_IPC_TYPES=1 cargo test -p nubo-ipc`. Do not edit.\n\n",
    );
    for d in decls {
        out.push_str("export ");
        out.push_str(&d);
        out.push_str("\n\n");
    }
    out.trim_end().to_string() + "\n"
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use fluent_syntax::ast;

    /// Each message's id with the arguments it uses (in its value, its
    /// attributes and every variant of a plural).
    fn messages(lang: &str, text: &str) -> BTreeMap<String, BTreeSet<String>> {
        let res = fluent_syntax::parser::parse(text)
            .unwrap_or_else(|(_, e)| panic!("i18n/{lang}.ftl does not parse: {e:?}"));
        let mut out = BTreeMap::new();
        for entry in res.body {
            if let ast::Entry::Message(m) = entry {
                let mut args = BTreeSet::new();
                if let Some(p) = &m.value {
                    pattern_args(p, &mut args);
                }
                out.insert(m.id.name.to_string(), args);
            }
        }
        out
    }

    fn pattern_args(p: &ast::Pattern<&str>, out: &mut BTreeSet<String>) {
        for el in &p.elements {
            if let ast::PatternElement::Placeable { expression } = el {
                expression_args(expression, out);
            }
        }
    }

    fn expression_args(e: &ast::Expression<&str>, out: &mut BTreeSet<String>) {
        match e {
            ast::Expression::Select { selector, variants } => {
                inline_args(selector, out);
                for v in variants {
                    pattern_args(&v.value, out);
                }
            }
            ast::Expression::Inline(i) => inline_args(i, out),
        }
    }

    fn inline_args(i: &ast::InlineExpression<&str>, out: &mut BTreeSet<String>) {
        match i {
            ast::InlineExpression::VariableReference { id } => {
                out.insert(id.name.to_string());
            }
            ast::InlineExpression::Placeable { expression } => expression_args(expression, out),
            _ => {}
        }
    }

    #[test]
    fn every_message_exists_in_every_language_with_the_same_arguments() {
        let (base_lang, base) = crate::i18n::CATALOGS[0];
        let base = messages(base_lang, base);
        assert!(base.len() > 100);
        for (lang, text) in &crate::i18n::CATALOGS[1..] {
            let other = messages(lang, text);
            let ids =
                |m: &BTreeMap<String, BTreeSet<String>>| m.keys().cloned().collect::<BTreeSet<_>>();
            let missing: Vec<_> = ids(&base).difference(&ids(&other)).cloned().collect();
            let extra: Vec<_> = ids(&other).difference(&ids(&base)).cloned().collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{lang} lacks {missing:?} and has extra {extra:?} compared with {base_lang}"
            );
            for (id, args) in &base {
                assert_eq!(
                    args, &other[id],
                    "{id}: {base_lang} and {lang} use different arguments"
                );
            }
        }
    }

    /// The message ids written out in `text`: the literal first argument of
    /// `t(...)` (the web front end) or `.get(...)` (the tray, notifications).
    /// Ids built at run time (`change-${kind}`) are checked by rendering
    /// every kind instead (words.rs's tests, the chromium tests).
    fn ids_named_in(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for call in ["t(", ".get("] {
            for (at, _) in text.match_indices(call) {
                let before = text[..at].chars().next_back();
                if call == "t(" && before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = text[at + call.len()..].trim_start();
                let Some(rest) = rest.strip_prefix('"') else {
                    continue;
                };
                let Some(end) = rest.find('"') else { continue };
                let id = &rest[..end];
                // `group-name`; the dotted keys of the old JSON catalogs too.
                let looks_like_id = id.contains(['-', '.'])
                    && id
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
                if looks_like_id {
                    out.push(id.to_string());
                }
            }
        }
        out
    }

    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path
                .extension()
                .is_some_and(|e| e == "rs" || e == "ts" || e == "svelte")
            {
                out.push(path);
            }
        }
    }

    #[test]
    fn every_message_the_app_names_is_in_every_catalog() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        for dir in ["src-tauri/src", "crates/ipc/src", "ui/src"] {
            sources(&root.join(dir), &mut files);
        }
        let catalogs: Vec<_> = crate::i18n::CATALOGS
            .iter()
            .map(|(lang, text)| (*lang, messages(lang, text)))
            .collect();
        let mut named = 0;
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            for id in ids_named_in(&text) {
                named += 1;
                for (lang, messages) in &catalogs {
                    assert!(
                        messages.contains_key(&id),
                        "{} names {id:?}, which i18n/{lang}.ftl lacks",
                        file.display()
                    );
                }
            }
        }
        // The tray's menu, the notifications and the screens.
        assert!(named > 150, "only {named} message ids found");
    }

    /// `ui/src/lib/NAME` is `want`; with UPDATE_IPC_TYPES set, it is made so.
    fn generated_is_current(name: &str, want: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../ui/src/lib")
            .join(name);
        if std::env::var_os("UPDATE_IPC_TYPES").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "ui/src/lib/{name} is stale; run `UPDATE_IPC_TYPES=1 cargo test -p nubo-ipc`"
        );
    }

    #[test]
    fn the_typescript_twin_is_current() {
        generated_is_current("ipc-types.ts", &super::typescript());
    }

    #[test]
    fn the_typescript_commands_are_current() {
        generated_is_current("ipc-commands.ts", &super::commands::typescript());
    }
}
