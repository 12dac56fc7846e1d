// A scripted stand-in for the Rust side, used only by the test build
// (`vite build --mode test`): the browser tests drive the real UI against it.
// Agreement texts are the project's own sample documents, or the shared
// real-world ones when the page is opened with ?agreements=shared.
import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import type { CommandName } from "../src/lib/ipc-commands";
import type { AgreementSummary, AppSnapshot, DeletedItem, FolderChoice, LegalDocument, Pause, Problem, RecentChange, RestoreItem, SignIn, SignInProblem, Acceptance, ShownDocument } from "../src/lib/ipc-types";
import termsEn from "../../crates/server/agreements/terms.en.md?raw";
import termsZh from "../../crates/server/agreements/terms.zh-CN.md?raw";
import privacyEn from "../../crates/server/agreements/privacy.en.md?raw";
import privacyZh from "../../crates/server/agreements/privacy.zh-CN.md?raw";
import pushEn from "../../crates/server/agreements/push.en.md?raw";
import pushZh from "../../crates/server/agreements/push.zh-CN.md?raw";

type Doc = AgreementSummary & { texts: Record<string, string> };
const titled = (d: Omit<Doc, "titles"> & { zhTitle?: string }): Doc => {
  const { zhTitle, ...rest } = d;
  return { ...rest, titles: { en: d.title, ...(zhTitle ? { "zh-CN": zhTitle } : {}) } };
};

const samples = (): Doc[] => [
  titled({ id: "terms", title: "Nubo Terms of Service", zhTitle: "Nubo 服务条款", version: "2026-11-01", effective: "2026-11-01", required: "sign-in", locales: ["en", "zh-CN"], accepted: false, upcoming: null, texts: { en: termsEn, "zh-CN": termsZh } }),
  titled({ id: "privacy", title: "Nubo Privacy Policy", zhTitle: "Nubo 隐私政策", version: "1", effective: "2026-11-01", required: "sign-in", locales: ["en", "zh-CN"], accepted: false, upcoming: null, texts: { en: privacyEn, "zh-CN": privacyZh } }),
  titled({ id: "push", title: "Instant Change Notifications", zhTitle: "即时变更通知", version: "1", effective: "2026-11-01", required: "optional", locales: ["en", "zh-CN"], accepted: false, upcoming: null, texts: { en: pushEn, "zh-CN": pushZh } }),
];

async function shared(): Promise<Doc[]> {
  const manifest = await (await fetch("/shared-agreements/manifest.json")).json();
  const docs: Doc[] = [];
  for (const m of manifest.documents) {
    const text = await (await fetch(`/shared-agreements/${m.file}`)).text();
    const existing = docs.find((d) => d.id === m.id);
    if (existing) {
      existing.titles[m.locale] = m.title;
      existing.locales.push(m.locale);
      existing.texts[m.locale] = text;
    } else {
      docs.push({ id: m.id, title: m.title, titles: { [m.locale]: m.title }, version: m.version, effective: m.effective, required: m.required, locales: [m.locale], accepted: false, upcoming: null, texts: { [m.locale]: text } });
    }
  }
  return docs;
}

export function installMockBackend(params: URLSearchParams) {
  const state: AppSnapshot = {
    revision: 0,
    phase: "welcome",
    language: params.get("lang") ?? "en",
    server: null,
    account: null,
    tray: { kind: "action_needed", need: { kind: "sign_in" } },
    status: null,
    default_server: "http://127.0.0.1:8787",
    start_at_login: false,
    push: false,
  };
  const docsReady = params.get("agreements") === "shared" ? shared() : Promise.resolve(samples());
  const calls: { cmd: string; args: unknown }[] = [];
  let ignore = "*.log\n";
  let limits = { upload_kbps: 0, download_kbps: 0 };
  let devices = [
    { id: 1, name: "laptop", os: "linux", last_seen: 1_795_000_000, current: true },
    { id: 2, name: "old-desktop", os: "windows", last_seen: 1_780_000_000, current: false },
  ];
  const remote = [
    { path: "/docs", excluded: false },
    { path: "/photos", excluded: false },
    { path: "/photos/2020", excluded: false },
    { path: "/photos/2021", excluded: false },
  ];
  // The trash: two days, three folders; ?trash=empty for none, ?trash=fail
  // for a service that cannot be reached.
  const day1 = Date.UTC(2026, 10, 23, 10, 0) / 1000;
  const day0 = Date.UTC(2026, 10, 20, 15, 30) / 1000;
  const trashed = (id: number, path: string, is_dir: boolean, files: number, size: number, at: number, device: string): DeletedItem => {
    const cut = path.lastIndexOf("/");
    return { id, path, name: path.slice(cut + 1), folder: cut === 0 ? "/" : path.slice(0, cut), is_dir, files, size, deleted_at: at, device };
  };
  let trash: DeletedItem[] =
    params.get("trash") === "empty"
      ? []
      : [
          trashed(11, "/photos/2020", true, 100, 250_000_000, day1, "laptop"),
          trashed(12, "/docs/report.txt", false, 1, 12_000, day1 - 600, "laptop"),
          trashed(13, "/docs/old notes.md", false, 1, 900, day1 - 700, "old-desktop"),
          trashed(14, "/budget.xlsx", false, 1, 40_000, day0, "old-desktop"),
        ];
  const versions = {
    node: 21,
    path: "/report.txt",
    deleted: false,
    versions: [
      { rev: 4, size: 5_000, at: day1, device: "", current: true },
      { rev: 3, size: 4_800, at: day1 - 3600, device: "laptop", current: false },
      { rev: 2, size: 3_000, at: day0, device: "laptop", current: false },
      { rev: 1, size: 1_000, at: day0 - 86_400, device: "old-desktop", current: false },
    ],
  };
  (window as unknown as { __nuboCalls: typeof calls }).__nuboCalls = calls;
  // Lets a test play the tray: `__nuboEmit("nubo://show", "restore")`.
  (window as unknown as { __nuboEmit: typeof emit }).__nuboEmit = emit;
  // A step named in ?hold=… (code: a code sign-in's approval; restore: a
  // restore's end) waits until the test lets it go, `__nuboRelease("code")`,
  // so that the test sees the screen in between however slow the machine.
  const held = params.getAll("hold");
  const released = new Map<string, () => void>();
  const gates = new Map(held.map((name) => [name, new Promise<void>((go) => released.set(name, go))]));
  const hold = (name: string) => gates.get(name) ?? Promise.resolve();
  (window as unknown as { __nuboRelease: (name: string) => void }).__nuboRelease = (name) => released.get(name)?.();
  const fail = (problem: SignInProblem | null, message: string) => Promise.reject({ problem, message });
  // The service's records (?records=second-pc: another computer accepted
  // already, and this one shows the same).
  type Rec = { id: string; kind: "accepted" | "withdrawn" | "declined"; version: string; locale: string; at: number };
  const records: Rec[] =
    params.get("records") === "second-pc"
      ? [
          { id: "terms", kind: "accepted", version: "2026-11-01", locale: "zh-CN", at: day0 },
          { id: "privacy", kind: "accepted", version: "1", locale: "en", at: day0 },
          { id: "push", kind: "withdrawn", version: "1", locale: "", at: day1 },
        ]
      : [];
  let outdatedOnce = params.get("outdated") === "1";

  mockIPC(async (cmd, args) => {
    calls.push({ cmd, args });
    state.revision += 1;
    const a = (args ?? {}) as Record<string, unknown>;
    // Checked by svelte-check: every command of crates/ipc is answered here.
    const command = cmd as CommandName | "plugin:dialog|open" | "plugin:opener|open_url";
    switch (command) {
      case "snapshot":
        return state;
      case "set_language":
        state.language = String(a.language);
        return state;
      case "sign_in": {
        const r = a.request as SignIn;
        if (r.server.includes("unreachable")) return fail("unreachable", "connection refused");
        if (r.server.startsWith("https://badcert")) return fail("bad_certificate", "invalid peer certificate: UnknownIssuer");
        if (r.server.startsWith("http://") && !/127\.0\.0\.1|localhost/.test(r.server)) return fail("insecure_address", "plain http");
        if (r.password === "guessing") {
          // 14:05 today, local time: the service takes the next try then.
          const at = new Date();
          at.setHours(14, 5, 0, 0);
          return fail({ too_many_attempts: { retry_at: Math.floor(at.getTime() / 1000) } }, "too many wrong passwords");
        }
        if (r.password !== "correct") return fail("wrong_credentials", "the account ID, phone number or password is wrong");
        Object.assign(state, { phase: "agreements", server: r.server, account: r.login });
        return state;
      }
      case "code_sign_in_start":
        return {
          user_code: "BCDF-GHJK",
          verification_uri: `${String(a.server)}/device`,
          verification_uri_complete: `${String(a.server)}/device?code=BCDF-GHJK`,
          qr_svg: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 2 2" data-testid="qr-svg"><rect width="1" height="1"/></svg>',
          expires_in: 600,
        };
      case "code_sign_in_wait":
        await new Promise((r) => setTimeout(r, 400));
        await hold("code");
        if (params.get("code") === "expire") return fail(null, "the code BCDF-GHJK expired before it was approved; start the sign-in again");
        Object.assign(state, { phase: "agreements", server: "http://127.0.0.1:8787", account: "demo" });
        return state;
      case "agreements":
        return (await docsReady).map((d) => ({ id: d.id, title: d.title, titles: d.titles, version: d.version, effective: d.effective, required: d.required, locales: d.locales, accepted: d.accepted, upcoming: d.upcoming }));
      case "agreement_text": {
        const doc = (await docsReady).find((d) => d.id === a.id);
        const markdown = doc?.texts[String(a.locale)];
        if (markdown === undefined) return fail(null, "no such document");
        if (a.version && a.version !== doc?.version) return { id: a.id, locale: a.locale, markdown: `# Version ${String(a.version)}\n\nThe text of version ${String(a.version)}.` };
        return { id: a.id, locale: a.locale, markdown };
      }
      case "accept": {
        const acc = a.acceptance as Acceptance;
        if (!acc.age) return fail(null, "confirm your age");
        if (outdatedOnce) {
          // The operator published a new version of the terms meanwhile.
          outdatedOnce = false;
          const terms = (await docsReady).find((d) => d.id === "terms");
          if (terms) terms.version = "2027-01-01";
          return fail("agreement_outdated", "version 2026-11-01 of \"terms\" was replaced");
        }
        for (const d of acc.documents) records.push({ id: d.id, kind: "accepted", version: d.version, locale: d.locale, at: day1 });
        state.phase = "folder";
        return state;
      }
      case "decline":
        for (const d of a.documents as ShownDocument[]) records.push({ id: d.id, kind: "declined", version: d.version, locale: d.locale, at: day1 });
        Object.assign(state, { phase: "welcome", account: null });
        return state;
      case "legal": {
        const docs = await docsReady;
        return docs.map((d): LegalDocument => {
          const r = [...records].reverse().find((x) => x.id === d.id);
          return {
            id: d.id, titles: d.titles, locales: d.locales, version: d.version, effective: d.effective, required: d.required, upcoming: d.upcoming,
            record: r && state.account !== null ? { kind: r.kind, version: r.version, locale: r.locale, at: r.at, age: "adult", titles: d.titles } : null,
          };
        });
      }
      case "account_summary":
        return { files: 1200, bytes: 3_400_000_000, trash_files: 4, trash_bytes: 250_052_900, versions: 7, version_bytes: 12_000, only_on_service: [{ path: "/videos", bytes: 2_000_000_000 }] };
      case "change_password": {
        const c = a.change as { current: string; new: string; sign_out_others: boolean };
        if (c.current !== "correct") return fail("wrong_credentials", "the current password is wrong; the password was not changed");
        return null;
      }
      case "export_to": {
        for (let i = 1; i <= 3; i++) {
          await new Promise((r) => setTimeout(r, 200));
          await emit("nubo://export-progress", { files_done: i, files_total: 3, bytes_done: i * 1000, bytes_total: 3000, path: `file-${i}.txt` });
        }
        return { files: 3, unchanged: 0, skipped: [] };
      }
      case "default_folder":
        return "/home/user/Nubo";
      case "choose_folder": {
        const f = a.choice as FolderChoice;
        if (state.status) {
          state.status.folders.push({ local: f.local, remote: f.remote, mode: f.mode, excluded: [], paused: false });
          return state;
        }
        state.phase = "running";
        state.start_at_login = true;
        if (params.get("progress") === "reading") {
          state.tray = { kind: "reading", files_left: 2_500, files_total: 3_500, bytes_left: 5_000_000, bytes_total: 7_000_000 };
        } else if (params.get("progress")) {
          state.tray = { kind: "syncing", files_left: 3, files_total: 10, bytes_left: 4_000_000, bytes_total: 10_000_000 };
        }
        state.tray = params.get("progress") ? state.tray : { kind: "up_to_date" };
        const at = "2026-11-23T10:15:00Z";
        const pauses: Pause[] = params.get("report") === "all" ? everyPause() : params.getAll("pause").map((kind) => everyPause().find((p) => p.kind === kind) as Pause);
        if (params.get("waiting")) pauses.push({ kind: "large_folder", remote_path: "/videos", bytes: 4_200_000_000 });
        const recent: RecentChange[] = params.get("report") === "all"
          ? everyChange().map((change) => ({ change, at, device: "laptop", service_path: null }))
          : [
              { change: { kind: "downloaded", path: "photos/beach.jpg" }, at, device: "laptop", service_path: "/photos/beach.jpg" },
              { change: { kind: "uploaded", path: "report.txt" }, at, device: "laptop", service_path: "/report.txt" },
            ];
        if (pauses.length) state.tray = { kind: "action_needed", need: { kind: "pauses", pauses } };
        state.status = {
          last_pass: { at, outcome: pauses.length ? { kind: "paused", pauses } : { kind: "in_sync" } },
          notice: params.get("report") === "all" ? { kind: "service_rewound" } : null,
          database_damaged: params.get("report") === "all",
          problems: params.get("report") === "all" ? everyProblem() : [], token_store: "keyring",
          storage_used: 2_500_000_000, storage_quota: 10_000_000_000,
          folders: [{ local: f.local, remote: f.remote, mode: f.mode, excluded: [], paused: false }],
          conflicts: [{ path: "report.txt", copy: "report (conflicted copy from laptop 2026-11-23 101500).txt", at }],
          recent,
          accepted: [{ id: "terms", version: "2026-11-01", locale: "en", age: "adult", accepted_at: "2026-11-23T10:00:00Z" }],
          pauses,
        };
        return state;
      }
      case "status":
        return state.status;
      case "show_conflict":
      case "open_logs":
        return null;
      case "set_folder": {
        const folder = state.status?.folders.find((x) => x.local === a.local);
        if (!folder) return fail(null, "not a synced folder");
        if (a.mode) folder.mode = a.mode as FolderChoice["mode"];
        if (a.paused !== null && a.paused !== undefined) folder.paused = Boolean(a.paused);
        return state;
      }
      case "remove_folder":
        if (state.status) state.status.folders = state.status.folders.filter((x) => x.local !== a.local);
        return state;
      case "devices":
        return devices;
      case "revoke_device":
        devices = devices.filter((d) => d.id !== a.id);
        return devices;
      case "limits":
        return limits;
      case "set_limits":
        limits = a.limits as typeof limits;
        return null;
      case "ignore_patterns":
        return ignore;
      case "set_ignore_patterns":
        ignore = String(a.text);
        return null;
      case "remote_folders":
        return remote;
      case "set_excluded": {
        const waiting = state.status?.pauses.find((p) => p.kind === "large_folder" && p.remote_path === a.path);
        if (waiting && state.status) {
          state.status.pauses = state.status.pauses.filter((p) => p !== waiting);
          return state;
        }
        const f = remote.find((r) => r.path === a.path);
        if (!f) return fail(null, "no such folder");
        if (a.excluded && f.path === "/photos/2021") return fail(null, "photos/2021/new.txt has changes here that are not synced yet");
        for (const r of remote) if (r.path === f.path || r.path.startsWith(`${f.path}/`)) r.excluded = Boolean(a.excluded);
        return state;
      }
      case "list_deleted": {
        if (params.get("trash") === "fail") return fail(null, "cannot reach the service (connection refused)");
        const q = String(a.query).trim().toLowerCase();
        const hits = trash.filter((i) => !q || i.name.toLowerCase().includes(q) || (i.id === 11 && "beach.jpg".includes(q)));
        const offset = Number(a.offset);
        return { items: hits.slice(offset, offset + 2), total: hits.length, retention_days: 30 };
      }
      case "list_versions":
        return { ...versions, path: String(a.path) };
      case "restore": {
        const items = a.items as RestoreItem[];
        const out = { restored: 0, files: 0, paths: [] as string[], failed: [] as string[] };
        for (const [i, item] of items.entries()) {
          // Slow enough for a person (and a test) to see the progress.
          await new Promise((r) => setTimeout(r, 300));
          const hit = trash.find((x) => x.id === item.node);
          if (item.rev === null && !hit) out.failed.push(`${item.label}: no longer in the trash`);
          else {
            out.restored += 1;
            out.files += hit?.files ?? 1;
            out.paths.push(item.label);
            trash = trash.filter((x) => x.id !== item.node);
          }
          await emit("nubo://restore-progress", { done: i + 1, total: items.length, label: item.label, error: null });
        }
        await hold("restore");
        return out;
      }
      case "set_push":
        state.push = Boolean(a.on);
        return state;
      case "cancel_account":
        if (a.confirm !== state.account) return fail(null, `to cancel, confirm with the account ID "${state.account}"; nothing was deleted`);
        Object.assign(state, { phase: "welcome", account: null, status: null });
        return state;
      case "allow_mass_delete":
        if (state.status) state.status.pauses = [];
        return state;
      case "set_start_at_login":
        state.start_at_login = Boolean(a.on);
        return state;
      case "sign_out":
        Object.assign(state, { phase: "welcome", account: null, status: null });
        return state;
      case "plugin:dialog|open":
        return "/home/user/Chosen";
      case "plugin:opener|open_url":
        return null;
      case "pause":
        state.tray = { kind: "paused" };
        return state;
      case "resume":
        state.tray = { kind: "up_to_date" };
        return state;
      default: {
        const unanswered: never = command;
        return fail(null, `the mock backend has no command ${unanswered}`);
      }
    }
  }, { shouldMockEvents: true });
}

// Every kind the engine reports, with data in the user's script where it is
// the user's own (paths), as in the tray's Rust tests (crates/ipc/src/words.rs).
export function everyPause(): Pause[] {
  const folder = "/家/文档";
  return [
    { kind: "mass_delete", folder, local_files: 20, remote_files: 0, synced_files: 20 },
    { kind: "agreements_required", documents: [{ id: "terms", title: "服务条款", version: "2", effective: "2027-01-01" }] },
    { kind: "storage_full", waiting: 3, storage: { used_bytes: 10_000_000_000, quota_bytes: 10_000_000_000 } },
    { kind: "storage_full", waiting: 1, storage: null },
    { kind: "service_full", waiting: 2 },
    { kind: "disk_full", waiting: 4, first: "视频/大.bin", keep_free_bytes: 500_000_000 },
    { kind: "folder_unavailable", folder, why: "missing" },
    { kind: "folder_unavailable", folder, why: "other_folder" },
    { kind: "folder_unavailable", folder, why: "marker_lost" },
    { kind: "account_frozen", deletes_at: "2026-12-23T00:00:00Z" },
    { kind: "account_frozen", deletes_at: null },
    { kind: "account_deleted" },
    { kind: "large_folder", remote_path: "/视频", bytes: 4_200_000_000 },
    { kind: "mount_gone", folder, path: "移动硬盘" },
  ];
}

export function everyProblem(): Problem[] {
  const path = "照片/海滩.jpg";
  const retry_at = "2026-11-23T10:20:00Z";
  return [
    ...(["permission_denied", "name_too_long", "vanished", "other"] as const).map((error): Problem => ({ kind: "blocked", path, why: { kind: "unreadable", error } })),
    { kind: "blocked", path, why: { kind: "in_the_way", what: "symlink" } },
    { kind: "blocked", path, why: { kind: "in_the_way", what: "special" } },
    { kind: "blocked", path, why: { kind: "mount_changed" } },
    { kind: "blocked", path, why: { kind: "nested_root" } },
    { kind: "blocked", path, why: { kind: "failing" } },
    ...(["permission_denied", "not_found", "already_exists", "other"] as const).map((error): Problem => ({ kind: "failing", path, error: { kind: "local", error }, retry_at })),
    ...(["changed", "through_link", "damaged", "offline", "local_database", "disk_full", "did_not_take"] as const).map((kind): Problem => ({ kind: "failing", path, error: { kind }, retry_at })),
    { kind: "failing", path, error: { kind: "service", code: "conflict" }, retry_at },
    ...(["empty", "dot_or_dot_dot", "separator", "nul", "too_long", "not_a_spelling"] as const).map((why): Problem => ({ kind: "refused_name", dir: "", name: "..", why })),
    { kind: "not_here", path: "某", why: "保留名称" },
    { kind: "folder_loop", path: "圈" },
    { kind: "outside_folder", path: "/家/外" },
    { kind: "unwatched", folders: 30, every_secs: 60 },
    { kind: "unreadable_part" },
    { kind: "ignore_file", broken: "line_skipped" },
    { kind: "ignore_file", broken: "unusable" },
  ];
}

export function everyChange(): RecentChange["change"][] {
  const path = "报告.txt";
  return [
    { kind: "uploaded", path },
    { kind: "downloaded", path },
    { kind: "moved_on_service", from: path, to: "旧/报告.txt" },
    { kind: "moved_here", from: path, to: "旧/报告.txt" },
    { kind: "conflict_kept", path, copy: "报告 2.txt" },
    { kind: "trashed_on_service", path },
    { kind: "trashed_here", path },
    { kind: "trashed_with_folder", path },
  ];
}
