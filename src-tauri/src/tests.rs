//! The IPC commands through Tauri's mock runtime, against a real service on
//! 127.0.0.1: what the front end gets back is what a user would see.

use std::sync::{Arc, Mutex};

use nubo_ipc::*;
use serde_json::{json, Value};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;

use crate::controller::{self, Outlet};

#[derive(Default)]
struct TestOutlet {
    snapshots: Mutex<Vec<AppSnapshot>>,
    notes: Mutex<Vec<String>>,
    start_at_login: Mutex<bool>,
    revealed: Mutex<Vec<std::path::PathBuf>>,
    progress: Mutex<Vec<RestoreProgress>>,
}

impl Outlet for TestOutlet {
    fn snapshot(&self, s: &AppSnapshot) {
        self.snapshots.lock().unwrap().push(s.clone());
    }
    fn notify(&self, _title: &str, body: &str) {
        self.notes.lock().unwrap().push(body.to_string());
    }
    fn start_at_login(&self) -> bool {
        *self.start_at_login.lock().unwrap()
    }
    fn set_start_at_login(&self, on: bool) -> Result<(), String> {
        *self.start_at_login.lock().unwrap() = on;
        Ok(())
    }
    fn reveal(&self, path: &std::path::Path) {
        self.revealed.lock().unwrap().push(path.to_path_buf());
    }
    fn restore_progress(&self, progress: &RestoreProgress) {
        self.progress.lock().unwrap().push(progress.clone());
    }
    fn export_progress(&self, _: &ExportProgressView) {}
}

fn call<T: serde::de::DeserializeOwned>(
    webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    args: Value,
) -> Result<T, CommandError> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: tauri::ipc::CallbackFn(0),
        error: tauri::ipc::CallbackFn(1),
        // The app's own origin on Linux; any other is remote and refused.
        url: "tauri://localhost".parse().unwrap(),
        body: tauri::ipc::InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    match get_ipc_response(webview, request) {
        Ok(body) => Ok(body
            .deserialize::<T>()
            .expect("the reply has the declared type")),
        Err(e) => Err(serde_json::from_value(e).expect("errors are CommandError")),
    }
}

/// Polls `check` until it gives something (bounded: a sync loop on loopback
/// takes well under this).
fn wait_for<T>(mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A service on 127.0.0.1 in `dir`, with the demo account and the sample
/// agreements.
fn start_service(dir: &std::path::Path) -> nubo_server::RunningServer {
    let mut cfg = nubo_server::ServerConfig::new(dir.join("service"));
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.demo = true;
    cfg.agreements = nubo_server::AgreementSource::Samples;
    std::env::set_var("NUBO_TOKEN_STORE", "file");
    tauri::async_runtime::block_on(nubo_server::start(cfg)).unwrap()
}

type MockApp = (
    tauri::App<tauri::test::MockRuntime>,
    tauri::WebviewWindow<tauri::test::MockRuntime>,
);

/// The app's controller on `home`, with every IPC command, and its window.
fn start_app(home: nubo_engine::Home, outlet: Arc<TestOutlet>, url: &str) -> MockApp {
    let handle = controller::spawn(home, outlet, "en".into(), url.to_string());
    let app = mock_builder()
        .manage(handle)
        .invoke_handler(crate::commands::handler())
        .build(mock_context(noop_assets()))
        .unwrap();
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, webview)
}

#[test]
fn the_wizard_through_the_real_commands() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_service(dir.path());
    let url = server.url();

    let home = nubo_engine::Home::new(dir.path().join("home")).unwrap();
    let outlet = Arc::new(TestOutlet::default());
    let (_app, webview) = start_app(home, outlet.clone(), &url);

    let s: AppSnapshot = call(&webview, "snapshot", json!({})).unwrap();
    assert_eq!(
        (s.phase, s.default_server.as_str()),
        (Phase::Welcome, url.as_str())
    );
    // "Privacy and legal" before sign-in: the service's documents, no record.
    let legal: Vec<LegalDocument> = call(&webview, "legal", json!({"server": url})).unwrap();
    assert_eq!(legal.len(), 3);
    assert!(legal.iter().all(|d| d.record.is_none()));
    assert_eq!(
        s.tray,
        TrayState::ActionNeeded { need: Need::SignIn },
        "the tray says what to do"
    );
    assert_eq!(
        nubo_ipc::words::tray_line(nubo_ipc::i18n::catalog("en"), &s.tray),
        "Action needed: sign in to start syncing"
    );
    assert_eq!(
        nubo_ipc::words::tray_line(nubo_ipc::i18n::catalog("zh-CN"), &s.tray),
        "需要处理：登录以开始同步"
    );

    let wrong = call::<AppSnapshot>(
        &webview,
        "sign_in",
        json!({"request": {"server": url, "login": "demo", "password": "nope"}}),
    );
    assert_eq!(
        wrong.unwrap_err().problem,
        Some(SignInProblem::WrongCredentials)
    );
    let unreachable = call::<AppSnapshot>(
        &webview,
        "sign_in",
        json!({"request": {"server": "http://127.0.0.1:9", "login": "demo", "password": "x"}}),
    );
    assert_eq!(
        unreachable.unwrap_err().problem,
        Some(SignInProblem::Unreachable)
    );
    let insecure = call::<AppSnapshot>(
        &webview,
        "sign_in",
        json!({"request": {"server": "http://sync.example.com", "login": "demo", "password": "x"}}),
    );
    assert_eq!(
        insecure.unwrap_err().problem,
        Some(SignInProblem::InsecureAddress)
    );

    let s: AppSnapshot = call(&webview, "sign_in", json!({"request": {"server": url, "login": "demo", "password": nubo_server::DEMO_PASSWORD}})).unwrap();
    assert_eq!(s.phase, Phase::Agreements);
    let docs: Vec<AgreementSummary> = call(&webview, "agreements", json!({})).unwrap();
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["terms", "privacy", "push"]);
    assert_eq!(docs[0].titles["zh-CN"], "Nubo 服务条款");
    let text: AgreementText = call(
        &webview,
        "agreement_text",
        json!({"id": "terms", "locale": "zh-CN"}),
    )
    .unwrap();
    assert!(text.markdown.contains("服务条款"));

    let s: AppSnapshot = call(
        &webview,
        "accept",
        json!({"acceptance": {"age": "guardian", "documents": [
            {"id": "terms", "version": "2026-11-01", "locale": "zh-CN"},
            {"id": "privacy", "version": "1", "locale": "en"}]}}),
    )
    .unwrap();
    assert_eq!(s.phase, Phase::Folder);
    // Each document recorded in the language it was shown in, and a second
    // PC of the account sees the same records on its legal screen.
    let second = nubo_engine::Home::new(dir.path().join("second-pc")).unwrap();
    tauri::async_runtime::block_on(nubo_engine::account::login(
        &second,
        &url,
        "demo",
        nubo_server::DEMO_PASSWORD,
    ))
    .unwrap();
    let there = tauri::async_runtime::block_on(crate::legal::load(&second, &url)).unwrap();
    tauri::async_runtime::block_on(nubo_engine::account::logout(&second)).unwrap();
    let here: Vec<LegalDocument> = call(&webview, "legal", json!({})).unwrap();
    for docs in [&here, &there] {
        let rec: Vec<String> = docs
            .iter()
            .map(|d| match &d.record {
                Some(r) => format!("{} {:?} {} {}", d.id, r.kind, r.version, r.locale),
                None => format!("{} none", d.id),
            })
            .collect();
        assert_eq!(
            rec,
            [
                "terms Accepted 2026-11-01 zh-CN",
                "privacy Accepted 1 en",
                "push none"
            ]
        );
    }
    let local = dir.path().join("Nubo");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("already-here.txt"), "merged, never wiped").unwrap();
    let s: AppSnapshot = call(
        &webview,
        "choose_folder",
        json!({"choice": {"local": local, "remote": "/", "mode": "two-way"}}),
    )
    .unwrap();
    assert_eq!(s.phase, Phase::Running);
    assert!(
        *outlet.start_at_login.lock().unwrap(),
        "start at login is on after the wizard"
    );

    // The sync loop runs: the file that was already in the folder reaches the service.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let status: StatusView = call(&webview, "status", json!({})).unwrap();
        if status.recent.iter().any(|r| {
            r.change
                == RecordedChange::Uploaded {
                    path: "already-here.txt".into(),
                }
        }) {
            assert_eq!(
                status.accepted.len(),
                2,
                "acceptances are kept locally: {:?}",
                status.accepted
            );
            // Each in the language it was shown in, not one for all.
            let kept: Vec<(&str, &str, &str)> = status
                .accepted
                .iter()
                .map(|a| (a.id.as_str(), a.locale.as_str(), a.age.as_str()))
                .collect();
            assert_eq!(
                kept,
                [
                    ("terms", "zh-CN", "guardian"),
                    ("privacy", "en", "guardian")
                ]
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the folder never synced: {status:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let last = outlet.snapshots.lock().unwrap().last().cloned().unwrap();
    assert!(
        last.revision > s.revision,
        "later snapshots carry later revisions"
    );

    // One folder paused, then its mode changed: the status says so.
    let local_str = local.canonicalize().unwrap().display().to_string();
    let s: AppSnapshot = call(
        &webview,
        "set_folder",
        json!({"local": local_str, "mode": null, "paused": true}),
    )
    .unwrap();
    assert!(s.status.as_ref().unwrap().folders[0].paused);
    let s: AppSnapshot = call(
        &webview,
        "set_folder",
        json!({"local": local_str, "mode": "upload-only", "paused": false}),
    )
    .unwrap();
    let f = &s.status.as_ref().unwrap().folders[0];
    assert_eq!((f.paused, f.mode), (false, SyncMode::UploadOnly));

    // The account's devices: this one, marked as such.
    let devices: Vec<DeviceView> = call(&webview, "devices", json!({})).unwrap();
    assert_eq!(devices.len(), 1);
    assert!(devices[0].current);

    // Bandwidth limits land in the home's config, where the engine reads them.
    call::<()>(
        &webview,
        "set_limits",
        json!({"limits": {"upload_kbps": 500, "download_kbps": 0}}),
    )
    .unwrap();
    let limits: Limits = call(&webview, "limits", json!({})).unwrap();
    assert_eq!((limits.upload_kbps, limits.download_kbps), (500, 0));

    // Ignore patterns are the folder's .nuboignore, as the user wrote them.
    call::<()>(
        &webview,
        "set_ignore_patterns",
        json!({"text": "*.tmp\nbuild/\n"}),
    )
    .unwrap();
    let text: String = call(&webview, "ignore_patterns", json!({})).unwrap();
    assert_eq!(text, "*.tmp\nbuild/\n");
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(&local_str).join(".nuboignore")).unwrap(),
        text
    );
    // Only a file inside the folder is shown.
    let outside = call::<()>(
        &webview,
        "show_conflict",
        json!({"path": "../elsewhere.txt"}),
    );
    assert!(outside.is_err(), "a path out of the folder is refused");
    assert!(outlet.revealed.lock().unwrap().is_empty());

    // A second folder from settings, then removed again: its files stay.
    let second = dir.path().join("Second");
    std::fs::create_dir_all(&second).unwrap();
    let s: AppSnapshot = call(
        &webview,
        "choose_folder",
        json!({"choice": {"local": second, "remote": "/Second", "mode": "two-way"}}),
    )
    .unwrap();
    assert_eq!(s.status.as_ref().unwrap().folders.len(), 2);
    let second_str = second.canonicalize().unwrap().display().to_string();
    let s: AppSnapshot = call(&webview, "remove_folder", json!({"local": second_str})).unwrap();
    assert_eq!(s.status.as_ref().unwrap().folders.len(), 1);
    assert!(second.exists());

    // A file deleted here comes back from the service's trash, and is shown.
    call::<AppSnapshot>(
        &webview,
        "set_folder",
        json!({"local": local_str, "mode": "two-way", "paused": null}),
    )
    .unwrap();
    std::fs::remove_file(local.join("already-here.txt")).unwrap();
    let item = wait_for(|| {
        let page: DeletedPage = call(
            &webview,
            "list_deleted",
            json!({"query": "already", "offset": 0}),
        )
        .unwrap();
        page.items.into_iter().next()
    });
    assert_eq!(
        (item.path.as_str(), item.folder.as_str()),
        ("/already-here.txt", "/")
    );
    let summary: RestoreSummary = call(
        &webview,
        "restore",
        json!({"items": [{"node": item.id, "rev": null, "as_copy": false, "label": item.path}]}),
    )
    .unwrap();
    assert_eq!((summary.restored, summary.files), (1, 1));
    assert_eq!(outlet.progress.lock().unwrap().len(), 1);
    let back = local.join("already-here.txt");
    wait_for(|| {
        std::fs::read(&back)
            .ok()
            .filter(|b| b == b"merged, never wiped")
    });
    wait_for(|| {
        outlet
            .revealed
            .lock()
            .unwrap()
            .last()
            .cloned()
            .filter(|p| *p == back)
    });
    assert!(outlet
        .notes
        .lock()
        .unwrap()
        .iter()
        .any(|n| n == "Files restored: 1. They are back in your Nubo folder."));

    // Declining (or signing out) stops syncing and keeps the files.
    let s: AppSnapshot = call(&webview, "sign_out", json!({})).unwrap();
    assert_eq!(s.phase, Phase::Welcome);
    assert!(local.join("already-here.txt").exists());

    // Back in by a code that another device of the account approves.
    let code: CodeSignIn = call(&webview, "code_sign_in_start", json!({"server": url})).unwrap();
    assert!(
        code.qr_svg.contains("<svg") && code.verification_uri_complete.contains(&code.user_code)
    );
    let other = tauri::async_runtime::block_on(nubo_engine::remote::login(
        &url,
        "demo",
        nubo_server::DEMO_PASSWORD,
        "phone",
    ))
    .unwrap();
    let other = nubo_engine::remote::HttpRemote::new(
        &url,
        nubo_engine::remote::Tokens {
            access: other.access_token,
            refresh: other.refresh_token,
        },
        Arc::new(|_| {}),
    );
    use nubo_engine::remote::AccountRemote;
    tauri::async_runtime::block_on(other.approve_device(&code.user_code)).unwrap();
    let s: AppSnapshot = call(&webview, "code_sign_in_wait", json!({})).unwrap();
    assert_eq!(s.phase, Phase::Running, "signed in again, folder and all");

    // Push consent, given and taken back from settings.
    assert!(!s.push, "push was declined in the wizard");
    let s: AppSnapshot = call(&webview, "set_push", json!({"on": true})).unwrap();
    assert!(s.push);
    let legal: Vec<LegalDocument> = call(&webview, "legal", json!({})).unwrap();
    let kinds: Vec<Option<RecordKind>> = legal
        .iter()
        .map(|d| d.record.as_ref().map(|r| r.kind))
        .collect();
    assert_eq!(
        kinds,
        [Some(RecordKind::Accepted); 3],
        "the push terms, and the earlier records as they were"
    );
    assert_eq!(legal[0].record.as_ref().unwrap().locale, "zh-CN");
    let s: AppSnapshot = call(&webview, "set_push", json!({"on": false})).unwrap();
    assert!(!s.push);
    let legal: Vec<LegalDocument> = call(&webview, "legal", json!({})).unwrap();
    assert_eq!(
        legal[2].record.as_ref().map(|r| r.kind),
        Some(RecordKind::Withdrawn),
        "a withdrawal shows as one"
    );

    // Cancelling needs the account ID; then signed out, files kept.
    let wrong = call::<AppSnapshot>(&webview, "cancel_account", json!({"confirm": "dem"}));
    assert!(wrong.unwrap_err().message.contains("nothing was deleted"));
    let s: AppSnapshot = call(&webview, "cancel_account", json!({"confirm": "demo"})).unwrap();
    assert_eq!(s.phase, Phase::Welcome);
    assert!(local.join("already-here.txt").exists());
    tauri::async_runtime::block_on(server.shutdown());
}

/// A home that signed in, accepted and synced `local` once, as `nubo` leaves it.
fn synced_home(home: &nubo_engine::Home, url: &str, local: &std::path::Path) {
    use nubo_engine::{account, Engine};
    tauri::async_runtime::block_on(async {
        account::login(home, url, "demo", nubo_server::DEMO_PASSWORD)
            .await
            .unwrap();
        let engine = Engine::open(home.clone()).unwrap();
        let shown: Vec<_> = account::to_read(&engine, "en", true, false)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.item)
            .collect();
        account::accept(&engine, &shown, nubo_protocol::AgeConfirmation::Adult)
            .await
            .unwrap();
        account::add_folder(home, local, "/", nubo_engine::planner::Mode::TwoWay).unwrap();
        let engine = Engine::open_for_sync(home.clone()).unwrap();
        engine.sync_once(false).await.unwrap();
    });
}

/// The names in the home that a set-aside state database has.
fn set_aside(home: &nubo_engine::Home) -> Vec<String> {
    std::fs::read_dir(home.db_path().parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("corrupt"))
        .collect()
}

#[test]
fn a_damaged_state_database_is_shown_and_left_until_the_sync_loop_rebuilds_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_service(dir.path());
    let url = server.url();
    let home = nubo_engine::Home::new(dir.path().join("home")).unwrap();
    let local = dir.path().join("Nubo");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("kept.txt"), "kept").unwrap();
    synced_home(&home, &url, &local);
    let db = home.db_path();
    for ext in ["sqlite-wal", "sqlite-shm"] {
        let _ = std::fs::remove_file(db.with_extension(ext));
    }
    std::fs::write(&db, b"this is not a database").unwrap();

    // `nubo sync` holds the home (its lock, taken here): the app only reads.
    let lock = home.lock_for_sync().unwrap();
    let outlet = Arc::new(TestOutlet::default());
    let (_app, webview) = start_app(home.clone(), outlet, &url);
    let s: AppSnapshot = call(&webview, "snapshot", json!({})).unwrap();
    assert_eq!(s.phase, Phase::Running, "signed in, with a folder");
    assert!(s.status.unwrap().database_damaged, "the status says so");
    assert_eq!(
        s.tray,
        TrayState::Error {
            failure: Failure::HomeBusy
        }
    );
    assert_eq!(std::fs::read(&db).unwrap(), b"this is not a database");
    assert!(set_aside(&home).is_empty(), "nothing was moved aside");

    // The app's own sync loop starts: it sets the file aside and rebuilds.
    drop(lock);
    call::<AppSnapshot>(&webview, "resume", json!({})).unwrap();
    let status = wait_for(|| {
        let s: StatusView = call(&webview, "status", json!({})).unwrap();
        matches!(s.notice, Some(Notice::DatabaseRebuilt { .. })).then_some(s)
    });
    assert!(!status.database_damaged);
    assert_eq!(set_aside(&home).len(), 1, "the damaged file is kept aside");
    assert_eq!(std::fs::read(local.join("kept.txt")).unwrap(), b"kept");
    tauri::async_runtime::block_on(server.shutdown());
}
