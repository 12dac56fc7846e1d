// Generated from crates/ipc/src/commands.rs by `UPDATE_IPC_TYPES=1 cargo test -p nubo-ipc`. Do not edit.

import { call } from "./ipc-call";
import type { Acceptance, AccountSummaryView, AgreementSummary, AgreementText, AppSnapshot, CodeSignIn, DeletedPage, DeviceView, ExportSummary, FileVersions, FolderChoice, LegalDocument, Limits, PasswordChangeView, RemoteFolder, RestoreItem, RestoreSummary, ShownDocument, SignIn, StatusView, SyncMode } from "./ipc-types";

/** Every command's name. */
export type CommandName = "snapshot" | "set_language" | "sign_in" | "code_sign_in_start" | "code_sign_in_wait" | "agreements" | "agreement_text" | "accept" | "decline" | "legal" | "account_summary" | "change_password" | "export_to" | "default_folder" | "choose_folder" | "status" | "pause" | "resume" | "allow_mass_delete" | "set_push" | "cancel_account" | "set_start_at_login" | "remote_folders" | "show_conflict" | "open_logs" | "limits" | "devices" | "remove_folder" | "revoke_device" | "set_folder" | "set_limits" | "ignore_patterns" | "set_ignore_patterns" | "set_excluded" | "sign_out" | "list_deleted" | "list_versions" | "restore";

/** The whole state the window shows. */
export const snapshot = () => call<AppSnapshot>("snapshot");
export const setLanguage = (language: string) => call<AppSnapshot>("set_language", { language });
export const signIn = (request: SignIn) => call<AppSnapshot>("sign_in", { request });
/** Sign-in approved from another device: show the code, then wait. */
export const codeSignInStart = (server: string) => call<CodeSignIn>("code_sign_in_start", { server });
/** Waits until the code is approved or expires. */
export const codeSignInWait = () => call<AppSnapshot>("code_sign_in_wait");
export const agreements = () => call<Array<AgreementSummary>>("agreements");
/** A document's text: of `version` (any ever published), else the one in force. */
export const agreementText = (id: string, locale: string, version: string | null = null) => call<AgreementText>("agreement_text", { id, locale, version });
export const accept = (acceptance: Acceptance) => call<AppSnapshot>("accept", { acceptance });
/** Declines the documents shown (recorded on the service), then signs out. */
export const decline = (documents: Array<ShownDocument>) => call<AppSnapshot>("decline", { documents });
/** Every published document with this account's record; before sign-in, of `server`. */
export const legal = (server: string | null = null) => call<Array<LegalDocument>>("legal", { server });
/** What cancelling the account would delete. */
export const accountSummary = () => call<AccountSummaryView>("account_summary");
export const changePassword = (change: PasswordChangeView) => call<null>("change_password", { change });
/** Copies everything the account stores into `dir`; progress comes as events. */
export const exportTo = (dir: string, trash: boolean) => call<ExportSummary>("export_to", { dir, trash });
export const defaultFolder = () => call<string>("default_folder");
export const chooseFolder = (choice: FolderChoice) => call<AppSnapshot>("choose_folder", { choice });
export const status = () => call<StatusView>("status");
/** Pauses syncing for so many minutes, or until resumed. */
export const pause = (minutes: number | null = null) => call<AppSnapshot>("pause", { minutes });
export const resume = () => call<AppSnapshot>("resume");
/** A paused mass delete goes ahead, once. */
export const allowMassDelete = () => call<AppSnapshot>("allow_mass_delete");
export const setPush = (on: boolean) => call<AppSnapshot>("set_push", { on });
/** `confirm` is the account ID as the user typed it. */
export const cancelAccount = (confirm: string) => call<AppSnapshot>("cancel_account", { confirm });
export const setStartAtLogin = (on: boolean) => call<AppSnapshot>("set_start_at_login", { on });
export const remoteFolders = () => call<Array<RemoteFolder>>("remote_folders");
/** Shows a conflict's two versions (they sit side by side) in the file manager. */
export const showConflict = (path: string) => call<null>("show_conflict", { path });
export const openLogs = () => call<null>("open_logs");
export const limits = () => call<Limits>("limits");
export const devices = () => call<Array<DeviceView>>("devices");
/** Stops syncing one folder; its files stay. */
export const removeFolder = (local: string) => call<AppSnapshot>("remove_folder", { local });
export const revokeDevice = (id: number) => call<Array<DeviceView>>("revoke_device", { id });
/** Pauses or resumes one folder, or changes its mode. */
export const setFolder = (local: string, mode: SyncMode | null = null, paused: boolean | null = null) => call<AppSnapshot>("set_folder", { local, mode, paused });
export const setLimits = (limits: Limits) => call<null>("set_limits", { limits });
/** The first folder's `.nuboignore`. */
export const ignorePatterns = () => call<string>("ignore_patterns");
export const setIgnorePatterns = (text: string) => call<null>("set_ignore_patterns", { text });
/** Selective sync: keeps a remote folder off this computer, or brings it back. */
export const setExcluded = (path: string, excluded: boolean) => call<AppSnapshot>("set_excluded", { path, excluded });
export const signOut = () => call<AppSnapshot>("sign_out");
/** One page of the service's trash matching a search. */
export const listDeleted = (query: string, offset: number) => call<DeletedPage>("list_deleted", { query, offset });
/** `path` is where the file is on the service, e.g. `/Docs/report.txt`. */
export const listVersions = (path: string) => call<FileVersions>("list_versions", { path });
/** Restores items from the trash or earlier versions; progress comes as events. */
export const restore = (items: Array<RestoreItem>) => call<RestoreSummary>("restore", { items });
