//! The tray: an icon per state and a menu that holds every action (on Linux
//! the AppIndicator tray receives no clicks). Items are updated in place.

use nubo_ipc::{AppSnapshot, TrayState};
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Wry};

use nubo_ipc::words;

use crate::i18n::Catalog;

pub struct Tray {
    icon: TrayIcon,
    status: MenuItem<Wry>,
    open: MenuItem<Wry>,
    pause: Submenu<Wry>,
    pause_30m: MenuItem<Wry>,
    pause_2h: MenuItem<Wry>,
    pause_forever: MenuItem<Wry>,
    resume: MenuItem<Wry>,
    recent: Submenu<Wry>,
    recent_items: Vec<MenuItem<Wry>>,
    restore: MenuItem<Wry>,
    show_status: MenuItem<Wry>,
    settings: MenuItem<Wry>,
    legal: MenuItem<Wry>,
    sign_out: MenuItem<Wry>,
    quit: MenuItem<Wry>,
}

fn icon_for(state: &TrayState) -> Image<'static> {
    let bytes: &'static [u8] = match state {
        TrayState::UpToDate => include_bytes!("../../icons/tray-up-to-date.png"),
        TrayState::Syncing { .. } | TrayState::Reading { .. } => {
            include_bytes!("../../icons/tray-syncing.png")
        }
        TrayState::Paused => include_bytes!("../../icons/tray-paused.png"),
        TrayState::Offline { .. } => include_bytes!("../../icons/tray-offline.png"),
        TrayState::Error { .. } => include_bytes!("../../icons/tray-error.png"),
        TrayState::ActionNeeded { .. } => include_bytes!("../../icons/tray-action-needed.png"),
    };
    Image::from_bytes(bytes).expect("the tray icons are valid PNG files")
}

/// How many recent changes the menu lists.
pub const RECENT: usize = 10;

impl Tray {
    pub fn build(app: &AppHandle, m: &Catalog) -> tauri::Result<Tray> {
        let item = |id: &str, label: String, enabled: bool| {
            MenuItem::with_id(app, id, label, enabled, None::<&str>)
        };
        let status = MenuItem::with_id(
            app,
            "status-line",
            m.get("tray-offline", &[]),
            false,
            None::<&str>,
        )?;
        let open = item("open-folder", m.get("menu-open_folder", &[]), true)?;
        let pause_30m = item("pause-30m", m.get("menu-pause_30m", &[]), true)?;
        let pause_2h = item("pause-2h", m.get("menu-pause_2h", &[]), true)?;
        let pause_forever = item("pause-forever", m.get("menu-pause_forever", &[]), true)?;
        let pause = Submenu::with_id_and_items(
            app,
            "pause",
            m.get("menu-pause", &[]),
            true,
            &[&pause_30m, &pause_2h, &pause_forever],
        )?;
        let resume = item("resume", m.get("menu-resume", &[]), false)?;
        let recent_items: Vec<MenuItem<Wry>> = (0..RECENT)
            .map(|i| MenuItem::with_id(app, format!("recent-{i}"), "", false, None::<&str>))
            .collect::<Result<_, _>>()?;
        let refs: Vec<&dyn tauri::menu::IsMenuItem<Wry>> = recent_items
            .iter()
            .map(|i| i as &dyn tauri::menu::IsMenuItem<Wry>)
            .collect();
        let recent =
            Submenu::with_id_and_items(app, "recent", m.get("menu-recent", &[]), true, &refs)?;
        let restore = item("restore", m.get("menu-restore", &[]), true)?;
        let show_status = item("show-status", m.get("menu-status", &[]), true)?;
        let settings = item("settings", m.get("menu-settings", &[]), true)?;
        let legal = item("legal", m.get("menu-legal", &[]), true)?;
        let sign_out = item("sign-out", m.get("menu-sign_out", &[]), true)?;
        let quit = item("quit", m.get("menu-quit", &[]), true)?;
        let sep = || PredefinedMenuItem::separator(app);
        let menu = Menu::with_items(
            app,
            &[
                &status,
                &sep()?,
                &open,
                &pause,
                &resume,
                &recent,
                &restore,
                &sep()?,
                &show_status,
                &settings,
                &legal,
                &sep()?,
                &sign_out,
                &quit,
            ],
        )?;
        let icon = TrayIconBuilder::with_id("nubo")
            .icon(icon_for(&TrayState::Offline {
                cause: nubo_ipc::NetCause::Connect,
            }))
            .tooltip("Nubo")
            .menu(&menu)
            .build(app)?;
        Ok(Tray {
            icon,
            status,
            open,
            pause,
            pause_30m,
            pause_2h,
            pause_forever,
            resume,
            recent,
            recent_items,
            restore,
            show_status,
            settings,
            legal,
            sign_out,
            quit,
        })
    }

    /// Brings icon, status line and items up to date, in place.
    pub fn update(&self, m: &Catalog, s: &AppSnapshot) {
        let _ = self.icon.set_icon(Some(icon_for(&s.tray)));
        let line = words::tray_line(m, &s.tray);
        let _ = self.icon.set_tooltip(Some(format!("Nubo: {line}")));
        let _ = self.status.set_text(line);
        let paused = s.tray == TrayState::Paused;
        let _ = self.pause.set_enabled(!paused);
        let _ = self.resume.set_enabled(paused);
        let recent = s
            .status
            .as_ref()
            .map(|st| st.recent.clone())
            .unwrap_or_default();
        for (i, item) in self.recent_items.iter().enumerate() {
            match recent.get(i) {
                Some(r) => {
                    let _ = item.set_text(words::change(m, &r.change));
                    let _ = item.set_enabled(true);
                }
                None if i == 0 => {
                    let _ = item.set_text(m.get("menu-recent_empty", &[]));
                    let _ = item.set_enabled(false);
                }
                None => {
                    let _ = item.set_text("");
                    let _ = item.set_enabled(false);
                }
            }
        }
        // Relabel for a language change.
        let _ = self.open.set_text(m.get("menu-open_folder", &[]));
        let _ = self.pause.set_text(m.get("menu-pause", &[]));
        let _ = self.pause_30m.set_text(m.get("menu-pause_30m", &[]));
        let _ = self.pause_2h.set_text(m.get("menu-pause_2h", &[]));
        let _ = self
            .pause_forever
            .set_text(m.get("menu-pause_forever", &[]));
        let _ = self.resume.set_text(m.get("menu-resume", &[]));
        let _ = self.recent.set_text(m.get("menu-recent", &[]));
        let _ = self.restore.set_text(m.get("menu-restore", &[]));
        let _ = self.show_status.set_text(m.get("menu-status", &[]));
        let _ = self.settings.set_text(m.get("menu-settings", &[]));
        let _ = self.legal.set_text(m.get("menu-legal", &[]));
        let _ = self.sign_out.set_text(m.get("menu-sign_out", &[]));
        let _ = self.quit.set_text(m.get("menu-quit", &[]));
    }
}
