// Generated from crates/ipc by `UPDATE_IPC_TYPES=1 cargo test -p nubo-ipc`. Do not edit.

export type Phase = "welcome" | "sign_in" | "agreements" | "folder" | "running";

export type TrayState = { "kind": "up_to_date" } | { "kind": "syncing", files_left: number, files_total: number, bytes_left: number, bytes_total: number, } | { "kind": "paused" } | { "kind": "offline" } | { "kind": "error", message: string, } | { "kind": "action_needed", message: string, };

export type AppSnapshot = { 
/**
 * Increases with every snapshot: command replies and events reach the
 * front end by different paths, so it keeps only the newest.
 */
revision: number, phase: Phase, language: string, server: string | null, account: string | null, tray: TrayState, status: StatusView | null, 
/**
 * Prefilled service address (the demo's, or the build's default).
 */
default_server: string, 
/**
 * Nubo starts when the user logs in (on by default after the wizard).
 */
start_at_login: boolean, };

export type SignIn = { server: string, 
/**
 * An account ID or a phone number.
 */
login: string, password: string, };

export type SignInProblem = "wrong_credentials" | "unreachable" | "bad_certificate" | "insecure_address" | "other";

export type CommandError = { problem: SignInProblem | null, message: string, };

export type Requirement = "sign-in" | "sync" | "optional";

export type AgreementSummary = { id: string, title: string, 
/**
 * The title in each language, by locale.
 */
titles: { [key in string]?: string }, version: string, effective: string, required: Requirement, locales: Array<string>, accepted: boolean, };

export type AgreementText = { id: string, locale: string, markdown: string, };

export type Age = "adult" | "guardian";

export type Acceptance = { age: Age, 
/**
 * Consent to instant change notifications (the optional push terms).
 */
push: boolean, 
/**
 * The language the documents were read in.
 */
locale: string, };

export type SyncMode = "two-way" | "upload-only" | "download-only";

export type FolderChoice = { local: string, remote: string, mode: SyncMode, };

export type FolderView = { local: string, remote: string, mode: SyncMode, 
/**
 * Selective sync: paths inside the folder that stay on the service only.
 */
excluded: Array<string>, paused: boolean, };

export type Conflict = { path: string, copy: string, at: string, };

export type RecentChange = { action: string, path: string, at: string, };

export type AcceptedAgreement = { id: string, version: string, locale: string, age: string, accepted_at: string, };

export type StatusView = { state: string | null, 
/**
 * Bytes the account stores on the service, as of the last sync.
 */
storage_used: number | null, storage_quota: number | null, last_error: string | null, folders: Array<FolderView>, conflicts: Array<Conflict>, recent: Array<RecentChange>, problems: Array<string>, token_store: string | null, accepted: Array<AcceptedAgreement>, };

export type RemoteFolder = { path: string, excluded: boolean, };

export type Limits = { upload_kbps: number, download_kbps: number, };

export type DeviceView = { id: number, name: string, 
/**
 * Unix seconds.
 */
last_seen: number, current: boolean, };
