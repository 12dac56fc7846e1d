//! Every IPC command, declared once: its name, its arguments and its reply.
//!
//! `commands!(then)` hands the list to the macro `then`, which makes what it
//! needs of it: the desktop app its Tauri commands, their registration and
//! the controller's requests (src-tauri), and this crate the front end's
//! typed functions (`ui/src/lib/ipc-commands.ts`, checked by
//! `cargo test -p nubo-ipc`). Adding a command: a line here, the
//! controller's method of the same name, and the mock backend's answer.

use ts_rs::TS;

use crate::*;

/// The command list, handed to `$then!` as
/// `/// docs  name(arg: Type, ...) -> Reply;` items. The types are named as
/// `nubo_ipc` exports them: the caller has them in scope (`use nubo_ipc::*`).
#[macro_export]
macro_rules! commands {
    ($then:ident) => {
        $then! {
            /// The whole state the window shows.
            snapshot() -> AppSnapshot;
            set_language(language: String) -> AppSnapshot;
            sign_in(request: SignIn) -> AppSnapshot;
            /// Sign-in approved from another device: show the code, then wait.
            code_sign_in_start(server: String) -> CodeSignIn;
            /// Waits until the code is approved or expires.
            code_sign_in_wait() -> AppSnapshot;
            agreements() -> Vec<AgreementSummary>;
            /// A document's text: of `version` (any ever published), else the one in force.
            agreement_text(id: String, locale: String, version: Option<String>) -> AgreementText;
            accept(acceptance: Acceptance) -> AppSnapshot;
            /// Declines the documents shown (recorded on the service), then signs out.
            decline(documents: Vec<ShownDocument>) -> AppSnapshot;
            /// Every published document with this account's record; before sign-in, of `server`.
            legal(server: Option<String>) -> Vec<LegalDocument>;
            /// What cancelling the account would delete.
            account_summary() -> AccountSummaryView;
            change_password(change: PasswordChangeView) -> ();
            /// Copies everything the account stores into `dir`; progress comes as events.
            export_to(dir: String, trash: bool) -> ExportSummary;
            default_folder() -> String;
            choose_folder(choice: FolderChoice) -> AppSnapshot;
            status() -> StatusView;
            /// Pauses syncing for so many minutes, or until resumed.
            pause(minutes: Option<u32>) -> AppSnapshot;
            resume() -> AppSnapshot;
            /// A paused mass delete goes ahead, once.
            allow_mass_delete() -> AppSnapshot;
            set_push(on: bool) -> AppSnapshot;
            /// `confirm` is the account ID as the user typed it.
            cancel_account(confirm: String) -> AppSnapshot;
            set_start_at_login(on: bool) -> AppSnapshot;
            remote_folders() -> Vec<RemoteFolder>;
            /// Shows a conflict's two versions (they sit side by side) in the file manager.
            show_conflict(path: String) -> ();
            open_logs() -> ();
            limits() -> Limits;
            devices() -> Vec<DeviceView>;
            /// Stops syncing one folder; its files stay.
            remove_folder(local: String) -> AppSnapshot;
            revoke_device(id: i64) -> Vec<DeviceView>;
            /// Pauses or resumes one folder, or changes its mode.
            set_folder(local: String, mode: Option<SyncMode>, paused: Option<bool>) -> AppSnapshot;
            set_limits(limits: Limits) -> ();
            /// The first folder's `.nuboignore`.
            ignore_patterns() -> String;
            set_ignore_patterns(text: String) -> ();
            /// Selective sync: keeps a remote folder off this computer, or brings it back.
            set_excluded(path: String, excluded: bool) -> AppSnapshot;
            sign_out() -> AppSnapshot;
            /// One page of the service's trash matching a search.
            list_deleted(query: String, offset: u32) -> DeletedPage;
            /// `path` is where the file is on the service, e.g. `/Docs/report.txt`.
            list_versions(path: String) -> FileVersions;
            /// Restores items from the trash or earlier versions; progress comes as events.
            restore(items: Vec<RestoreItem>) -> RestoreSummary;
        }
    };
}

/// One command as the TypeScript side calls it.
struct Command {
    docs: &'static [&'static str],
    name: &'static str,
    args: Vec<(&'static str, String)>,
    reply: String,
}

macro_rules! described {
    ($( $(#[doc = $doc:literal])* $name:ident ( $($arg:ident : $ty:ty),* ) -> $reply:ty ; )*) => {
        fn described() -> Vec<Command> {
            vec![$(Command {
                docs: &[$($doc),*],
                name: stringify!($name),
                args: vec![$((stringify!($arg), <$ty as TS>::name())),*],
                reply: <$reply as TS>::name(),
            }),*]
        }
    };
}
commands!(described);

/// `set_start_at_login` -> `setStartAtLogin`: the front end's spelling, and
/// the argument keys Tauri expects.
fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A TypeScript type as ts-rs names it. JSON has no bigint: an `i64` arrives
/// as a number.
fn ts_type(name: &str) -> String {
    name.replace("bigint", "number")
}

/// The type names a declaration uses, to import them.
fn type_names(ts: &str, out: &mut std::collections::BTreeSet<String>) {
    for word in ts.split(|c: char| !c.is_alphanumeric()) {
        if word.starts_with(char::is_uppercase) && word != "Array" {
            out.insert(word.to_string());
        }
    }
}

fn function(c: &Command) -> String {
    let mut out = String::new();
    for d in c.docs {
        out.push_str(&format!("/**{d} */\n"));
    }
    // Trailing optional arguments may be left out.
    let optional_from = c
        .args
        .iter()
        .rposition(|(_, t)| !t.ends_with("| null"))
        .map_or(0, |i| i + 1);
    let params: Vec<String> = c
        .args
        .iter()
        .enumerate()
        .map(|(i, (a, t))| {
            let default = if i >= optional_from { " = null" } else { "" };
            format!("{}: {}{default}", camel(a), ts_type(t))
        })
        .collect();
    let keys: Vec<String> = c.args.iter().map(|(a, _)| camel(a)).collect();
    let args = if keys.is_empty() {
        String::new()
    } else {
        format!(", {{ {} }}", keys.join(", "))
    };
    out.push_str(&format!(
        "export const {} = ({}) => call<{}>(\"{}\"{args});\n",
        camel(c.name),
        params.join(", "),
        ts_type(&c.reply),
        c.name,
    ));
    out
}

/// `ui/src/lib/ipc-commands.ts`: one typed function per command.
pub fn typescript() -> String {
    let commands = described();
    let mut types = std::collections::BTreeSet::new();
    for c in &commands {
        type_names(&c.reply, &mut types);
        for (_, t) in &c.args {
            type_names(t, &mut types);
        }
    }
    let mut out = String::from(
        "// Generated from crates/ipc/src/commands.rs by `UPDATE_IPC_TYPES=1 cargo test -p nubo-ipc`. Do not edit.\n\n",
    );
    out.push_str("import { call } from \"./ipc-call\";\n");
    out.push_str(&format!(
        "import type {{ {} }} from \"./ipc-types\";\n\n",
        types.into_iter().collect::<Vec<_>>().join(", ")
    ));
    // The mock backend's switch is checked against it: every command answered.
    let names: Vec<String> = commands.iter().map(|c| format!("\"{}\"", c.name)).collect();
    out.push_str(&format!(
        "/** Every command's name. */\nexport type CommandName = {};\n\n",
        names.join(" | ")
    ));
    for c in &commands {
        out.push_str(&function(c));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_and_optional_arguments() {
        assert_eq!(super::camel("set_start_at_login"), "setStartAtLogin");
        let ts = super::typescript();
        assert!(ts.contains(
            "export const agreementText = (id: string, locale: string, version: string | null = null) => call<AgreementText>(\"agreement_text\", { id, locale, version });"
        ), "{ts}");
        assert!(ts.contains(
            "export const revokeDevice = (id: number) => call<Array<DeviceView>>(\"revoke_device\", { id });"
        ), "{ts}");
        assert!(
            ts.contains("export const openLogs = () => call<null>(\"open_logs\");"),
            "{ts}"
        );
    }
}
