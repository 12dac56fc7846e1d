// Generated from crates/ipc by `UPDATE_IPC_TYPES=1 cargo test -p nubo-ipc`. Do not edit.

export type Blocked = { "kind": "unreadable", error: ReadError, } | { "kind": "in_the_way", what: Unsynced, } | { "kind": "mount_changed" } | { "kind": "nested_root" } | { "kind": "failing" };

export type ReadError = "permission_denied" | "name_too_long" | "vanished" | "other";

export type Unsynced = "symlink" | "special";

export type NameRule = "empty" | "dot_or_dot_dot" | "separator" | "nul" | "too_long" | "not_a_spelling";

export type IgnoreFileProblem = "line_skipped" | "unusable";

export type LocalError = "permission_denied" | "not_found" | "already_exists" | "other";

export type OpFailure = { "kind": "local", error: LocalError, } | { "kind": "changed" } | { "kind": "through_link" } | { "kind": "damaged" } | { "kind": "service", code: string, } | { "kind": "offline" } | { "kind": "local_database" } | { "kind": "disk_full" } | { "kind": "did_not_take" };

export type Problem = { "kind": "blocked", path: string, why: Blocked, } | { "kind": "failing", path: string, error: OpFailure, retry_at: string, } | { "kind": "refused_name", 
/**
 * The folder it is in (`""`: the top).
 */
dir: string, name: string, why: NameRule, } | { "kind": "not_here", path: string, why: string, } | { "kind": "folder_loop", path: string, } | { "kind": "bad_hash", path: string, } | { "kind": "outside_folder", path: string, } | { "kind": "unreadable_part" } | { "kind": "ignore_file", broken: IgnoreFileProblem, } | { "kind": "unwatched", folders: number, every_secs: number, };

export type PendingDocument = { id: string, title: string, version: string, 
/**
 * `YYYY-MM-DD`.
 */
effective: string, };

export type RootProblem = "missing" | "other_folder" | "marker_lost";

export type Storage = { used_bytes: number, quota_bytes: number, };

export type Pause = { "kind": "mass_delete", folder: string, local_files: number, remote_files: number, synced_files: number, } | { "kind": "agreements_required", documents: Array<PendingDocument>, } | { "kind": "storage_full", waiting: number, storage: Storage | null, } | { "kind": "service_full", waiting: number, } | { "kind": "disk_full", waiting: number, 
/**
 * The first file that did not fit.
 */
first: string | null, keep_free_bytes: number, } | { "kind": "folder_unavailable", folder: string, why: RootProblem, } | { "kind": "account_frozen", 
/**
 * When the service deletes the account's files unless someone signs in.
 */
deletes_at: string | null, } | { "kind": "account_deleted" } | { "kind": "large_folder", remote_path: string, bytes: number, } | { "kind": "mount_gone", folder: string, path: string, };

export type NetCause = "connect" | "timed_out" | "certificate" | "broken";

export type Failure = { "kind": "no_folders" } | { "kind": "offline", cause: NetCause, } | { "kind": "signed_out" } | { "kind": "local_database", disk_full: boolean, } | { "kind": "local" } | { "kind": "service", code: string, } | { "kind": "did_not_settle" } | { "kind": "home_busy" };

export type PassOutcome = { "kind": "in_sync" } | { "kind": "paused", pauses: Array<Pause>, } | { "kind": "failed", failure: Failure, };

export type LastPass = { at: string, outcome: PassOutcome, };

export type RecordedChange = { "kind": "uploaded", path: string, } | { "kind": "downloaded", path: string, } | { "kind": "moved_on_service", from: string, to: string, } | { "kind": "moved_here", from: string, to: string, } | { "kind": "conflict_kept", path: string, copy: string, } | { "kind": "trashed_on_service", path: string, } | { "kind": "trashed_here", path: string, } | { "kind": "trashed_with_folder", path: string, };

export type Notice = { "kind": "database_rebuilt", set_aside: string | null, } | { "kind": "service_rewound" };

export type Phase = "welcome" | "sign_in" | "agreements" | "folder" | "running";

export type Need = { "kind": "sign_in" } | { "kind": "agreements" } | { "kind": "folder" } | { "kind": "pauses", pauses: Array<Pause>, };

export type TrayState = { "kind": "up_to_date" } | { "kind": "syncing", files_left: number, files_total: number, bytes_left: number, bytes_total: number, } | { "kind": "reading", files_left: number, files_total: number, bytes_left: number, bytes_total: number, } | { "kind": "paused" } | { "kind": "offline", cause: NetCause, } | { "kind": "error", failure: Failure, } | { "kind": "action_needed", need: Need, };

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

export type Conflict = { path: string, copy: string, 
/**
 * RFC 3339.
 */
at: string, };

export type RecentChange = { change: RecordedChange, 
/**
 * RFC 3339.
 */
at: string, 
/**
 * The device that made it.
 */
device: string, 
/**
 * The file's path on the service, for "Earlier versions…".
 */
service_path: string | null, };

export type TokenStoreView = "keyring" | "file";

export type AcceptedAgreement = { id: string, version: string, locale: string, age: string, accepted_at: string, };

export type StatusView = { 
/**
 * How the last pass ended; none before the first.
 */
last_pass: LastPass | null, 
/**
 * Something that happened once and that the user should know.
 */
notice: Notice | null, 
/**
 * The state database cannot be read (it is left as it is; the next
 * sync rebuilds it).
 */
database_damaged: boolean, 
/**
 * Bytes the account stores on the service, as of the last sync.
 */
storage_used: number | null, storage_quota: number | null, folders: Array<FolderView>, conflicts: Array<Conflict>, recent: Array<RecentChange>, 
/**
 * What the last round left out, and why.
 */
problems: Array<Problem>, token_store: TokenStoreView | null, accepted: Array<AcceptedAgreement>, 
/**
 * What the last pass paused for, with its data. The status window
 * offers the action that resolves each (a large new folder: download
 * it or keep it on the service).
 */
pauses: Array<Pause>, };

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
