// The only module the screens import to talk to the Rust side. Every
// command is a typed function, generated with its types from crates/ipc
// (ipc-commands.ts, ipc-types.ts); here are the events and the plugins.
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { openUrl } from "@tauri-apps/plugin-opener";
import type { AppSnapshot, ExportProgressView, RestoreProgress } from "./ipc-types";

export type * from "./ipc-types";
export * from "./ipc-commands";
export { IpcError } from "./ipc-call";

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
