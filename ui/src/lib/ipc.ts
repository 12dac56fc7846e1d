// The only module that talks to the Rust side. Every command the app offers
// is a typed function here; the types come from crates/ipc (generated).
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { openUrl } from "@tauri-apps/plugin-opener";
import type {
  Acceptance,
  AccountSummaryView,
  ExportProgressView,
  ExportSummary,
  LegalDocument,
  PasswordChangeView,
  ShownDocument,
  AgreementSummary,
  AgreementText,
  AppSnapshot,
  CodeSignIn,
  CommandError,
  DeletedPage,
  DeviceView,
  FileVersions,
  FolderChoice,
  Limits,
  RemoteFolder,
  RestoreItem,
  RestoreProgress,
  RestoreSummary,
  SignIn,
  StatusView,
  SyncMode,
} from "./ipc-types";

export type * from "./ipc-types";

/** A command's failure, as the Rust side describes it. */
export class IpcError extends Error {
  constructor(public readonly detail: CommandError) {
    super(detail.message);
  }
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    if (e && typeof e === "object" && "message" in e) {
      throw new IpcError(e as CommandError);
    }
    throw new IpcError({ problem: null, message: String(e) });
  }
}

export const snapshot = () => call<AppSnapshot>("snapshot");
export const setLanguage = (language: string) => call<AppSnapshot>("set_language", { language });
export const signIn = (request: SignIn) => call<AppSnapshot>("sign_in", { request });
/** Sign-in approved from another device: show the code, then wait. */
export const codeSignInStart = (server: string) => call<CodeSignIn>("code_sign_in_start", { server });
export const codeSignInWait = () => call<AppSnapshot>("code_sign_in_wait");
export const agreements = () => call<AgreementSummary[]>("agreements");
/** A document's text: of `version` (any ever published), else the one in force. */
export const agreementText = (id: string, locale: string, version: string | null = null) =>
  call<AgreementText>("agreement_text", { id, locale, version });
export const accept = (acceptance: Acceptance) => call<AppSnapshot>("accept", { acceptance });
/** Declines the documents shown (recorded on the service), then signs out. */
export const decline = (documents: ShownDocument[]) => call<AppSnapshot>("decline", { documents });
/** Every published document with this account's record; before sign-in, of `server`. */
export const legal = (server: string | null = null) => call<LegalDocument[]>("legal", { server });
export const accountSummary = () => call<AccountSummaryView>("account_summary");
export const changePassword = (change: PasswordChangeView) => call<null>("change_password", { change });
/** Copies everything the account stores into `dir`; progress comes as events. */
export const exportTo = (dir: string, trash: boolean) => call<ExportSummary>("export", { dir, trash });
export const chooseFolder = (choice: FolderChoice) => call<AppSnapshot>("choose_folder", { choice });
export const status = () => call<StatusView>("status");
export const pause = (minutes: number | null) => call<AppSnapshot>("pause", { minutes });
export const resume = () => call<AppSnapshot>("resume");
/** A paused mass delete goes ahead, once. */
export const allowMassDelete = () => call<AppSnapshot>("allow_mass_delete");
export const setPush = (on: boolean) => call<AppSnapshot>("set_push", { on });
/** `confirm` is the account ID as the user typed it. */
export const cancelAccount = (confirm: string) => call<AppSnapshot>("cancel_account", { confirm });
export const setStartAtLogin = (on: boolean) => call<AppSnapshot>("set_start_at_login", { on });
export const remoteFolders = () => call<RemoteFolder[]>("remote_folders");
export const showConflict = (path: string) => call<null>("show_conflict", { path });
export const openLogs = () => call<null>("open_logs");
export const limits = () => call<Limits>("limits");
export const devices = () => call<DeviceView[]>("devices");
export const removeFolder = (local: string) => call<AppSnapshot>("remove_folder", { local });
export const revokeDevice = (id: number) => call<DeviceView[]>("revoke_device", { id });
export const setFolder = (local: string, mode: SyncMode | null, paused: boolean | null) =>
  call<AppSnapshot>("set_folder", { local, mode, paused });
export const setLimits = (l: Limits) => call<null>("set_limits", { limits: l });
export const ignorePatterns = () => call<string>("ignore_patterns");
export const setIgnorePatterns = (text: string) => call<null>("set_ignore_patterns", { text });
export const setExcluded = (path: string, excluded: boolean) => call<AppSnapshot>("set_excluded", { path, excluded });
export const signOut = () => call<AppSnapshot>("sign_out");
export const defaultFolder = () => call<string>("default_folder");
export const listDeleted = (query: string, offset: number) => call<DeletedPage>("list_deleted", { query, offset });
/** `path` is where the file is on the service, e.g. `/Docs/report.txt`. */
export const listVersions = (path: string) => call<FileVersions>("list_versions", { path });
export const restore = (items: RestoreItem[]) => call<RestoreSummary>("restore", { items });

/** The native folder picker; null when the user cancels. */
export async function pickFolder(): Promise<string | null> {
  const chosen = await openDialog({ directory: true, multiple: false });
  return typeof chosen === "string" ? chosen : null;
}

/** Links in agreements open in the system browser, never in the app. */
export const openLink = (url: string) => openUrl(url);

export const onSnapshot = (f: (s: AppSnapshot) => void): Promise<UnlistenFn> =>
  listen<AppSnapshot>("nubo://snapshot", (e) => f(e.payload));

/** After each item of a running restore. */
export const onRestoreProgress = (f: (p: RestoreProgress) => void): Promise<UnlistenFn> =>
  listen<RestoreProgress>("nubo://restore-progress", (e) => f(e.payload));

/** After each file of a running export. */
export const onExportProgress = (f: (p: ExportProgressView) => void): Promise<UnlistenFn> =>
  listen<ExportProgressView>("nubo://export-progress", (e) => f(e.payload));

/** The tray asks to show a view ("status", "settings", "legal", "restore"). */
export const onShow = (f: (view: string) => void): Promise<UnlistenFn> =>
  listen<string>("nubo://show", (e) => f(e.payload));
