// A scripted stand-in for the Rust side, used only by the test build
// (`vite build --mode test`): the browser tests drive the real UI against it.
// Agreement texts are the project's own sample documents, or the shared
// real-world ones when the page is opened with ?agreements=shared.
import { mockIPC } from "@tauri-apps/api/mocks";
import type { AgreementSummary, AppSnapshot, FolderChoice, SignIn, Acceptance } from "../src/lib/ipc-types";
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
  titled({ id: "terms", title: "Nubo Terms of Service", zhTitle: "Nubo 服务条款", version: "2026-11-01", effective: "2026-11-01", required: "sign-in", locales: ["en", "zh-CN"], accepted: false, texts: { en: termsEn, "zh-CN": termsZh } }),
  titled({ id: "privacy", title: "Nubo Privacy Policy", zhTitle: "Nubo 隐私政策", version: "1", effective: "2026-11-01", required: "sign-in", locales: ["en", "zh-CN"], accepted: false, texts: { en: privacyEn, "zh-CN": privacyZh } }),
  titled({ id: "push", title: "Instant Change Notifications", zhTitle: "即时变更通知", version: "1", effective: "2026-11-01", required: "optional", locales: ["en", "zh-CN"], accepted: false, texts: { en: pushEn, "zh-CN": pushZh } }),
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
      docs.push({ id: m.id, title: m.title, titles: { [m.locale]: m.title }, version: m.version, effective: m.effective, required: m.required, locales: [m.locale], accepted: false, texts: { [m.locale]: text } });
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
    tray: { kind: "offline" },
    status: null,
    default_server: "http://127.0.0.1:8787",
    start_at_login: false,
  };
  const docsReady = params.get("agreements") === "shared" ? shared() : Promise.resolve(samples());
  const calls: { cmd: string; args: unknown }[] = [];
  let ignore = "*.log\n";
  let limits = { upload_kbps: 0, download_kbps: 0 };
  let devices = [
    { id: 1, name: "laptop", last_seen: 0, current: true },
    { id: 2, name: "old-desktop", last_seen: 0, current: false },
  ];
  const remote = [
    { path: "/docs", excluded: false },
    { path: "/photos", excluded: false },
    { path: "/photos/2020", excluded: false },
    { path: "/photos/2021", excluded: false },
  ];
  (window as unknown as { __nuboCalls: typeof calls }).__nuboCalls = calls;
  const fail = (problem: string | null, message: string) => Promise.reject({ problem, message });

  mockIPC(async (cmd, args) => {
    calls.push({ cmd, args });
    state.revision += 1;
    const a = (args ?? {}) as Record<string, unknown>;
    switch (cmd) {
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
        if (r.password !== "correct") return fail("wrong_credentials", "the account ID, phone number or password is wrong");
        Object.assign(state, { phase: "agreements", server: r.server, account: r.login });
        return state;
      }
      case "agreements":
        return (await docsReady).map((d) => ({ id: d.id, title: d.title, titles: d.titles, version: d.version, effective: d.effective, required: d.required, locales: d.locales, accepted: d.accepted }));
      case "agreement_text": {
        const doc = (await docsReady).find((d) => d.id === a.id);
        const markdown = doc?.texts[String(a.locale)];
        if (markdown === undefined) return fail(null, "no such document");
        return { id: a.id, locale: a.locale, markdown };
      }
      case "accept": {
        const acc = a.acceptance as Acceptance;
        if (!acc.age) return fail(null, "confirm your age");
        state.phase = "folder";
        return state;
      }
      case "decline":
        Object.assign(state, { phase: "welcome", account: null });
        return state;
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
        if (params.get("progress")) {
          state.tray = { kind: "syncing", files_left: 3, files_total: 10, bytes_left: 4_000_000, bytes_total: 10_000_000 };
        }
        state.tray = params.get("progress") ? state.tray : { kind: "up_to_date" };
        state.status = {
          state: "up to date", last_error: null, problems: [], token_store: "the OS keyring",
          storage_used: 2_500_000_000, storage_quota: 10_000_000_000,
          folders: [{ local: f.local, remote: f.remote, mode: f.mode, excluded: [], paused: false }],
          conflicts: [{ path: "report.txt", copy: "report (conflicted copy from laptop 2026-11-23 101500).txt", at: "2026-11-23 101500" }],
          recent: [{ action: "downloaded", path: "photos/beach.jpg", at: "" }, { action: "uploaded", path: "report.txt", at: "" }],
          accepted: [{ id: "terms", version: "2026-11-01", locale: "en", age: "adult", accepted_at: "2026-11-23T10:00:00Z" }],
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
        const f = remote.find((r) => r.path === a.path);
        if (!f) return fail(null, "no such folder");
        if (a.excluded && f.path === "/photos/2021") return fail(null, "photos/2021/new.txt has changes here that are not synced yet");
        for (const r of remote) if (r.path === f.path || r.path.startsWith(`${f.path}/`)) r.excluded = Boolean(a.excluded);
        return state;
      }
      case "set_start_at_login":
        state.start_at_login = Boolean(a.on);
        return state;
      case "sign_out":
        Object.assign(state, { phase: "welcome", account: null, status: null });
        return state;
      case "plugin:event|listen":
        return calls.length;
      case "plugin:event|unlisten":
        return null;
      case "plugin:dialog|open":
        return "/home/user/Chosen";
      case "plugin:opener|open_url":
        return null;
      default:
        return fail(null, `the mock backend has no command ${cmd}`);
    }
  });
}
