//! The Nubo desktop app: a thin Tauri shell. IPC commands and tray actions go
//! to the controller (`controller.rs`), which owns the engine.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod controller;
mod i18n;
mod legal;
mod settings;
mod tray;

use std::sync::{Arc, Mutex};

use controller::{Handle, Outlet, Request};
use nubo_engine::Home;
use nubo_ipc::*;
use tauri::{AppHandle, Emitter, Manager, State, WindowEvent};

/// The event the front end listens to for every change of state.
pub const SNAPSHOT_EVENT: &str = "nubo://snapshot";
/// After each item of a restore.
pub const RESTORE_PROGRESS_EVENT: &str = "nubo://restore-progress";
/// After each file of an export.
pub const EXPORT_PROGRESS_EVENT: &str = "nubo://export-progress";

struct AppOutlet {
    app: AppHandle,
    tray: Mutex<Option<tray::Tray>>,
    recent_paths: Mutex<Vec<String>>,
}

impl Outlet for AppOutlet {
    fn snapshot(&self, s: &AppSnapshot) {
        let _ = self.app.emit(SNAPSHOT_EVENT, s);
        let messages = i18n::Messages::load(&s.language);
        if let Some(t) = self.tray.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            t.update(&messages, s);
        }
        let folder = s
            .status
            .as_ref()
            .and_then(|st| st.folders.first())
            .map(|f| f.local.clone())
            .unwrap_or_default();
        let recent = s
            .status
            .as_ref()
            .map(|st| {
                st.recent
                    .iter()
                    .map(|r| format!("{folder}/{}", r.path))
                    .collect()
            })
            .unwrap_or_default();
        *self.recent_paths.lock().unwrap_or_else(|p| p.into_inner()) = recent;
    }

    fn notify(&self, title: &str, body: &str) {
        use tauri_plugin_notification::NotificationExt;
        let _ = self
            .app
            .notification()
            .builder()
            .title(title)
            .body(body)
            .show();
    }

    fn reveal(&self, path: &std::path::Path) {
        use tauri_plugin_opener::OpenerExt;
        let opened = if path.is_dir() {
            self.app
                .opener()
                .open_path(path.display().to_string(), None::<&str>)
        } else {
            self.app.opener().reveal_item_in_dir(path)
        };
        if let Err(e) = opened {
            tracing::warn!("cannot show {}: {e}", path.display());
        }
    }

    fn restore_progress(&self, progress: &RestoreProgress) {
        let _ = self.app.emit(RESTORE_PROGRESS_EVENT, progress);
    }

    fn export_progress(&self, progress: &ExportProgressView) {
        let _ = self.app.emit(EXPORT_PROGRESS_EVENT, progress);
    }

    fn start_at_login(&self) -> bool {
        use tauri_plugin_autostart::ManagerExt;
        self.app.autolaunch().is_enabled().unwrap_or(false)
    }

    fn set_start_at_login(&self, on: bool) -> Result<(), String> {
        use tauri_plugin_autostart::ManagerExt;
        let launcher = self.app.autolaunch();
        let done = if on {
            launcher.enable()
        } else {
            launcher.disable()
        };
        done.map_err(|e| e.to_string())
    }
}

type Cmd<T> = Result<T, CommandError>;

/// Every IPC command the front end may call; also registered by the tests.
macro_rules! handler {
    () => {
        tauri::generate_handler![
            snapshot,
            set_language,
            sign_in,
            agreements,
            agreement_text,
            accept,
            decline,
            choose_folder,
            status,
            pause,
            resume,
            sign_out,
            default_folder,
            set_start_at_login,
            remote_folders,
            set_excluded,
            show_conflict,
            open_logs,
            ignore_patterns,
            set_ignore_patterns,
            limits,
            set_limits,
            set_folder,
            devices,
            revoke_device,
            remove_folder,
            list_deleted,
            code_sign_in_start,
            allow_mass_delete,
            set_push,
            cancel_account,
            code_sign_in_wait,
            list_versions,
            restore,
            legal,
            account_summary,
            change_password,
            export
        ]
    };
}

#[tauri::command]
async fn snapshot(c: State<'_, Handle>) -> Cmd<AppSnapshot> {
    c.ask(Request::Snapshot).await
}
#[tauri::command]
async fn set_language(c: State<'_, Handle>, language: String) -> Cmd<AppSnapshot> {
    c.ask(|r| Request::SetLanguage(language, r)).await
}
#[tauri::command]
async fn sign_in(c: State<'_, Handle>, request: SignIn) -> Cmd<AppSnapshot> {
    c.ask(|r| Request::SignIn(request, r)).await
}
#[tauri::command]
async fn agreements(c: State<'_, Handle>) -> Cmd<Vec<AgreementSummary>> {
    c.ask(Request::Agreements).await
}
#[tauri::command]
async fn agreement_text(
    c: State<'_, Handle>,
    id: String,
    locale: String,
    version: Option<String>,
) -> Cmd<AgreementText> {
    c.ask(|r| Request::AgreementText(id, locale, version, r))
        .await
}
#[tauri::command]
async fn legal(c: State<'_, Handle>, server: Option<String>) -> Cmd<Vec<LegalDocument>> {
    c.ask(|r| Request::Legal(server, r)).await
}
#[tauri::command]
async fn account_summary(c: State<'_, Handle>) -> Cmd<AccountSummaryView> {
    c.ask(Request::AccountSummary).await
}
#[tauri::command]
async fn change_password(c: State<'_, Handle>, change: PasswordChangeView) -> Cmd<()> {
    c.ask(|r| Request::ChangePassword(change, r)).await
}
#[tauri::command]
async fn export(c: State<'_, Handle>, dir: String, trash: bool) -> Cmd<ExportSummary> {
    c.ask(|r| Request::Export(dir, trash, r)).await
}
#[tauri::command]
async fn accept(c: State<'_, Handle>, acceptance: Acceptance) -> Cmd<AppSnapshot> {
    c.ask(|r| Request::Accept(acceptance, r)).await
}
#[tauri::command]
async fn decline(c: State<'_, Handle>, documents: Vec<ShownDocument>) -> Cmd<AppSnapshot> {
    c.ask(|r| Request::Decline(documents, r)).await
}
#[tauri::command]
async fn choose_folder(c: State<'_, Handle>, choice: FolderChoice) -> Cmd<AppSnapshot> {
    c.ask(|r| Request::ChooseFolder(choice, r)).await
}
#[tauri::command]
async fn status(c: State<'_, Handle>) -> Cmd<StatusView> {
    c.ask(Request::Status).await
}
#[tauri::command]
async fn pause(c: State<'_, Handle>, minutes: Option<u64>) -> Cmd<AppSnapshot> {
    c.ask(|r| Request::Pause(minutes, r)).await
}
#[tauri::command]
async fn set_start_at_login(c: State<'_, Handle>, on: bool) -> Cmd<AppSnapshot> {
    c.ask(|r| Request::SetStartAtLogin(on, r)).await
}
#[tauri::command]
async fn remote_folders(c: State<'_, Handle>) -> Cmd<Vec<RemoteFolder>> {
    c.ask(Request::RemoteFolders).await
}
#[tauri::command]
async fn set_excluded(c: State<'_, Handle>, path: String, excluded: bool) -> Cmd<AppSnapshot> {
    c.ask(|r| Request::SetExcluded(path, excluded, r)).await
}
#[tauri::command]
async fn show_conflict(c: State<'_, Handle>, path: String) -> Cmd<()> {
    c.ask(|r| Request::ShowConflict(path, r)).await
}
#[tauri::command]
async fn set_folder(
    c: State<'_, Handle>,
    local: String,
    mode: Option<SyncMode>,
    paused: Option<bool>,
) -> Cmd<AppSnapshot> {
    c.ask(|r| Request::SetFolder(local, mode, paused, r)).await
}
#[tauri::command]
async fn remove_folder(c: State<'_, Handle>, local: String) -> Cmd<AppSnapshot> {
    c.ask(|r| Request::RemoveFolder(local, r)).await
}
#[tauri::command]
async fn devices(c: State<'_, Handle>) -> Cmd<Vec<DeviceView>> {
    c.ask(Request::Devices).await
}
#[tauri::command]
async fn revoke_device(c: State<'_, Handle>, id: i64) -> Cmd<Vec<DeviceView>> {
    c.ask(|r| Request::RevokeDevice(id, r)).await
}
#[tauri::command]
async fn limits(c: State<'_, Handle>) -> Cmd<Limits> {
    c.ask(Request::Limits).await
}
#[tauri::command]
async fn set_limits(c: State<'_, Handle>, limits: Limits) -> Cmd<()> {
    c.ask(|r| Request::SetLimits(limits, r)).await
}
#[tauri::command]
async fn open_logs(c: State<'_, Handle>) -> Cmd<()> {
    c.ask(Request::OpenLogs).await
}
#[tauri::command]
async fn ignore_patterns(c: State<'_, Handle>) -> Cmd<String> {
    c.ask(Request::IgnorePatterns).await
}
#[tauri::command]
async fn set_ignore_patterns(c: State<'_, Handle>, text: String) -> Cmd<()> {
    c.ask(|r| Request::SetIgnorePatterns(text, r)).await
}
#[tauri::command]
async fn resume(c: State<'_, Handle>) -> Cmd<AppSnapshot> {
    c.ask(Request::Resume).await
}
#[tauri::command]
async fn sign_out(c: State<'_, Handle>) -> Cmd<AppSnapshot> {
    c.ask(Request::SignOut).await
}
#[tauri::command]
async fn set_push(c: State<'_, Handle>, on: bool) -> Cmd<AppSnapshot> {
    c.ask(|r| Request::SetPush(on, r)).await
}
#[tauri::command]
async fn cancel_account(c: State<'_, Handle>, confirm: String) -> Cmd<AppSnapshot> {
    c.ask(|r| Request::CancelAccount(confirm, r)).await
}
#[tauri::command]
async fn allow_mass_delete(c: State<'_, Handle>) -> Cmd<AppSnapshot> {
    c.ask(Request::AllowMassDelete).await
}
#[tauri::command]
async fn code_sign_in_start(c: State<'_, Handle>, server: String) -> Cmd<CodeSignIn> {
    c.ask(|r| Request::CodeSignInStart(server, r)).await
}
#[tauri::command]
async fn code_sign_in_wait(c: State<'_, Handle>) -> Cmd<AppSnapshot> {
    c.ask(Request::CodeSignInWait).await
}
#[tauri::command]
async fn list_deleted(c: State<'_, Handle>, query: String, offset: u32) -> Cmd<DeletedPage> {
    c.ask(|r| Request::ListDeleted(query, offset, r)).await
}
#[tauri::command]
async fn list_versions(c: State<'_, Handle>, path: String) -> Cmd<FileVersions> {
    c.ask(|r| Request::ListVersions(path, r)).await
}
#[tauri::command]
async fn restore(c: State<'_, Handle>, items: Vec<RestoreItem>) -> Cmd<RestoreSummary> {
    c.ask(|r| Request::Restore(items, r)).await
}
#[tauri::command]
fn default_folder() -> String {
    directories::UserDirs::new()
        .map(|d| d.home_dir().join("Nubo").display().to_string())
        .unwrap_or_else(|| "Nubo".into())
}

fn show_main(app: &AppHandle, view: Option<&str>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
        if let Some(v) = view {
            let _ = app.emit("nubo://show", v);
        }
    }
}

fn home() -> anyhow::Result<Home> {
    let dir = match std::env::var_os("NUBO_HOME") {
        Some(d) => d.into(),
        None => directories::ProjectDirs::from("", "", "Nubo")
            .ok_or_else(|| anyhow::anyhow!("no home directory found; set NUBO_HOME"))?
            .data_dir()
            .to_path_buf(),
    };
    Home::new(dir)
}

fn on_menu(app: &AppHandle, id: &str) {
    let handle = app.state::<Handle>().inner().clone();
    let outlet = app.state::<Arc<AppOutlet>>().inner().clone();
    let send = move |make: fn(tokio::sync::oneshot::Sender<Cmd<AppSnapshot>>) -> Request| {
        let h = handle.clone();
        tauri::async_runtime::spawn(async move {
            let _ = h.ask(make).await;
        });
    };
    match id {
        "open-folder" => {
            let app = app.clone();
            let h = app.state::<Handle>().inner().clone();
            tauri::async_runtime::spawn(async move {
                if let Ok(s) = h.ask(Request::Status).await {
                    if let Some(f) = s.folders.first() {
                        use tauri_plugin_opener::OpenerExt;
                        let _ = app.opener().open_path(f.local.clone(), None::<&str>);
                    }
                }
            });
        }
        "pause-30m" => send(|r| Request::Pause(Some(30), r)),
        "pause-2h" => send(|r| Request::Pause(Some(120), r)),
        "pause-forever" => send(|r| Request::Pause(None, r)),
        "resume" => send(Request::Resume),
        "show-status" => show_main(app, Some("status")),
        "restore" => show_main(app, Some("restore")),
        "settings" => show_main(app, Some("settings")),
        "legal" => show_main(app, Some("legal")),
        "sign-out" => send(Request::SignOut),
        "quit" => app.exit(0),
        other if other.starts_with("recent-") => {
            let i: usize = other["recent-".len()..].parse().unwrap_or(usize::MAX);
            if let Some(path) = outlet
                .recent_paths
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(i)
                .cloned()
            {
                use tauri_plugin_opener::OpenerExt;
                let _ = app.opener().reveal_item_in_dir(path);
            }
        }
        _ => {}
    }
}

fn main() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NUBO_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .try_init();
    let home = match home() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("nubo-app: {e:#}");
            std::process::exit(1);
        }
    };
    let language = settings::load(&home)
        .language
        .unwrap_or_else(|| i18n::system_language().to_string());
    let default_server = std::env::var("NUBO_SERVER").unwrap_or_else(|_| {
        option_env!("NUBO_DEFAULT_SERVER")
            .unwrap_or("http://127.0.0.1:8787")
            .to_string()
    });

    tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            show_main(app, None)
        }))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(handler!())
        .on_window_event(|window, event| {
            // Closing a window leaves the app running in the tray.
            if let WindowEvent::CloseRequested { api, .. } = event {
                if window
                    .app_handle()
                    .state::<Arc<AppOutlet>>()
                    .tray
                    .lock()
                    .map(|t| t.is_some())
                    .unwrap_or(false)
                {
                    let _ = window.hide();
                    api.prevent_close();
                }
            }
        })
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .setup(move |app| {
            let handle = app.handle().clone();
            let outlet = Arc::new(AppOutlet {
                app: handle.clone(),
                tray: Mutex::new(None),
                recent_paths: Mutex::new(Vec::new()),
            });
            // A missing tray library degrades to a window, never a panic.
            let messages = i18n::Messages::load(&language);
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                tray::Tray::build(&handle, &messages)
            })) {
                Ok(Ok(t)) => *outlet.tray.lock().unwrap_or_else(|p| p.into_inner()) = Some(t),
                Ok(Err(e)) => tracing::warn!("no tray ({e}); Nubo stays a window"),
                Err(_) => tracing::warn!("no tray library; Nubo stays a window"),
            }
            app.manage(outlet.clone());
            let controller = controller::spawn(
                home.clone(),
                outlet,
                language.clone(),
                default_server.clone(),
            );
            app.manage(controller);
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("the desktop app failed to start");
}

// After `handler!`, which the tests use too: a macro is in scope from its definition on.
#[cfg(test)]
mod tests;
