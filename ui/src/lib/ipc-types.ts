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
start_at_login: boolean, 
/**
 * Consent to instant change notifications (the optional push terms).
 */
push: boolean, };

export type SignIn = { server: string, 
/**
 * An account ID or a phone number.
 */
login: string, password: string, };

export type SignInProblem = "wrong_credentials" | { "too_many_attempts": { retry_at: number, } } | "unreachable" | "bad_certificate" | "insecure_address" | "agreement_outdated" | "other";

export type CodeSignIn = { 
/**
 * For a person to type: `ABCD-EFGH`.
 */
user_code: string, 
/**
 * The service's approval page.
 */
verification_uri: string, 
/**
 * The page with the code filled in: what the QR code holds.
 */
verification_uri_complete: string, 
/**
 * The QR code of `verification_uri_complete`, as an SVG document.
 */
qr_svg: string, expires_in: number, };

export type CommandError = { problem: SignInProblem | null, message: string, };

export type Requirement = "sign-in" | "sync" | "optional";

export type AgreementSummary = { id: string, title: string, 
/**
 * The title in each language, by locale.
 */
titles: { [key in string]?: string }, version: string, effective: string, required: Requirement, locales: Array<string>, accepted: boolean, 
/**
 * A revision announced for a later date.
 */
upcoming: Upcoming | null, };

export type Upcoming = { version: string, 
/**
 * `YYYY-MM-DD`.
 */
effective: string, };

export type AgreementText = { id: string, locale: string, markdown: string, };

export type ShownDocument = { id: string, version: string, locale: string, };

export type RecordKind = "accepted" | "withdrawn" | "declined";

export type LegalRecord = { kind: RecordKind, version: string, 
/**
 * The language it was read in (empty for a withdrawal).
 */
locale: string, 
/**
 * Unix seconds.
 */
at: number, age: Age, 
/**
 * The title of that version, by locale.
 */
titles: { [key in string]?: string }, };

export type LegalDocument = { id: string, 
/**
 * The title in each language, by locale.
 */
titles: { [key in string]?: string }, locales: Array<string>, 
/**
 * The version in force.
 */
version: string, effective: string, required: Requirement, 
/**
 * None before sign-in, or when the account never answered it.
 */
record: LegalRecord | null, upcoming: Upcoming | null, };

export type AccountSummaryView = { files: number, bytes: number, trash_files: number, trash_bytes: number, versions: number, version_bytes: number, 
/**
 * Top-level items not synced to this computer: (path, files, bytes).
 */
only_on_service: Array<WaitingFolder>, };

export type ExportProgressView = { files_done: number, files_total: number, bytes_done: number, bytes_total: number, path: string, };

export type ExportSummary = { files: number, unchanged: number, 
/**
 * One sentence per item not exported.
 */
skipped: Array<string>, };

export type PasswordChangeView = { current: string, new: string, sign_out_others: boolean, };

export type Age = "adult" | "guardian";

export type Acceptance = { age: Age, 
/**
 * Every document accepted, as shown (the push terms among them when
 * the user consented to instant change notifications).
 */
documents: Array<ShownDocument>, };

export type SyncMode = "two-way" | "upload-only" | "download-only";

export type FolderChoice = { local: string, remote: string, mode: SyncMode, };

export type FolderView = { local: string, remote: string, mode: SyncMode, 
/**
 * Selective sync: paths inside the folder that stay on the service only.
 */
excluded: Array<string>, paused: boolean, };

export type Conflict = { path: string, copy: string, at: string, };

export type RecentChange = { action: string, path: string, at: string, 
/**
 * The file's path on the service, for "Earlier versions…".
 */
service_path: string | null, };

export type AcceptedAgreement = { id: string, version: string, locale: string, age: string, accepted_at: string, };

export type StatusView = { state: string | null, 
/**
 * Bytes the account stores on the service, as of the last sync.
 */
storage_used: number | null, storage_quota: number | null, last_error: string | null, folders: Array<FolderView>, conflicts: Array<Conflict>, recent: Array<RecentChange>, problems: Array<string>, token_store: string | null, accepted: Array<AcceptedAgreement>, 
/**
 * New folders on the service over the size threshold, waiting for a
 * yes (download) or no (keep on the service only).
 */
waiting_folders: Array<WaitingFolder>, 
/**
 * What the last pass paused for: `mass_delete`, `agreements`,
 * `storage_full`, `disk_full`, `folder_unavailable`, `account_frozen`,
 * `account_deleted`, `large_folder`. The status window offers the action
 * that resolves each.
 */
pauses: Array<string>, };

export type WaitingFolder = { 
/**
 * On the service, e.g. `/photos/2020`.
 */
path: string, bytes: number, };

export type RemoteFolder = { path: string, excluded: boolean, };

export type Limits = { upload_kbps: number, download_kbps: number, };

export type DeviceView = { id: number, name: string, 
/**
 * `linux`, `windows`, `macos`, or empty.
 */
os: string, 
/**
 * Unix seconds.
 */
last_seen: number, current: boolean, };

export type DeletedItem = { id: number, name: string, 
/**
 * Where it was on the service, e.g. `/Docs/report.txt`.
 */
path: string, 
/**
 * The folder it was in, on the service (for grouping).
 */
folder: string, is_dir: boolean, size: number, 
/**
 * Files it holds (1 for a file).
 */
files: number, 
/**
 * Unix seconds.
 */
deleted_at: number, 
/**
 * The device that deleted it.
 */
device: string, };

export type DeletedPage = { items: Array<DeletedItem>, total: number, 
/**
 * How long the service keeps deleted items.
 */
retention_days: number, };

export type VersionView = { rev: number, size: number, 
/**
 * When this content was written, Unix seconds.
 */
at: number, device: string, 
/**
 * The file's content now (listed first).
 */
current: boolean, };

export type FileVersions = { node: number, path: string, deleted: boolean, versions: Array<VersionView>, };

export type RestoreItem = { node: number, 
/**
 * An earlier version of a file; null for a deleted item as it was.
 */
rev: number | null, 
/**
 * With `rev`: beside the current file instead of replacing it.
 */
as_copy: boolean, 
/**
 * How the item is named in progress and messages.
 */
label: string, };

export type RestoreProgress = { done: number, total: number, label: string, error: string | null, };

export type RestoreSummary = { 
/**
 * Items brought back, and the files they hold.
 */
restored: number, files: number, 
/**
 * Where they are now on the service.
 */
paths: Array<string>, 
/**
 * One sentence per item that could not be restored.
 */
failed: Array<string>, };
