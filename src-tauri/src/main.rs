//! The Nubo desktop app: a thin Tauri shell. IPC commands and tray actions go
//! to the controller (`controller.rs`), which owns the engine.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod controller;
mod i18n;
mod legal;
mod settings;
mod tray;

use std::sync::{Arc, Mutex};

use controller::{Command, Handle, Outlet, Reply};
use nubo_engine::Home;
use nubo_ipc::*;
use tauri::{AppHandle, Emitter, Manager, WindowEvent};

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
        let messages = i18n::catalog(&s.language);
        if let Some(t) = self.tray.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            t.update(messages, s);
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
                    .map(|r| format!("{folder}/{}", r.change.path()))
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
    let send = move |make: fn(Reply<AppSnapshot>) -> Command| {
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
                if let Ok(s) = h.ask(|reply| Command::status { reply }).await {
                    if let Some(f) = s.folders.first() {
                        use tauri_plugin_opener::OpenerExt;
                        let _ = app.opener().open_path(f.local.clone(), None::<&str>);
                    }
                }
            });
        }
        "pause-30m" => send(|reply| Command::pause {
            minutes: Some(30),
            reply,
        }),
        "pause-2h" => send(|reply| Command::pause {
            minutes: Some(120),
            reply,
        }),
        "pause-forever" => send(|reply| Command::pause {
            minutes: None,
            reply,
        }),
        "resume" => send(|reply| Command::resume { reply }),
        "show-status" => show_main(app, Some("status")),
        "restore" => show_main(app, Some("restore")),
        "settings" => show_main(app, Some("settings")),
        "legal" => show_main(app, Some("legal")),
        "sign-out" => send(|reply| Command::sign_out { reply }),
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
        .invoke_handler(commands::handler())
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
            let messages = i18n::catalog(&language);
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                tray::Tray::build(&handle, messages)
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

#[cfg(test)]
mod tests;
