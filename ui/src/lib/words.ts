// The web front end's words for the engine's reports, from the catalogs:
// the twin of crates/ipc/src/words.rs (the same message for the same kind).
import { t } from "./i18n.svelte";
import { formatBytes } from "./format";
import type { Failure, NetCause, Notice, OpFailure, Pause, Problem, RecordedChange, TrayState } from "./ipc-types";

const pad = (n: number) => String(n).padStart(2, "0");

/** A day, `YYYY-MM-DD`, in the local time zone. */
export function day(rfc3339: string): string {
  const d = new Date(rfc3339);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** A time of day, `HH:MM`, in the local time zone. */
export function clock(rfc3339: string): string {
  const d = new Date(rfc3339);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function trayLine(s: TrayState): string {
  switch (s.kind) {
    case "up_to_date":
      return t("tray-up_to_date");
    case "syncing":
      return t("tray-syncing", { count: s.files_left });
    case "reading":
      return t("tray-reading", { count: s.files_left });
    case "paused":
      return t("tray-paused");
    case "offline":
      return t("tray-offline");
    case "error":
      return t("tray-error", { message: failure(s.failure) });
    case "action_needed": {
      const need = s.need;
      if (need.kind === "pauses") {
        const [first] = need.pauses;
        if (!first) return t("tray-up_to_date");
        return t("tray-action_pauses", { count: need.pauses.length, more: need.pauses.length - 1, first: pause(first) });
      }
      return t("tray-action_needed", { message: t(`tray-need_${need.kind}`) });
    }
  }
}

export function offline(cause: NetCause): string {
  return t("status-offline_cause", { cause: t(`net-${cause}`) });
}

export function pause(p: Pause): string {
  switch (p.kind) {
    case "mass_delete":
      return t("pause-mass_delete", { folder: p.folder, local: p.local_files, remote: p.remote_files });
    case "agreements_required":
      return t("pause-agreements_required", { count: p.documents.length, documents: p.documents.map((d) => `“${d.title}”`).join(", ") });
    case "storage_full":
      return p.storage
        ? t("pause-storage_full", { waiting: p.waiting, used: formatBytes(p.storage.used_bytes), quota: formatBytes(p.storage.quota_bytes) })
        : t("pause-storage_full_unknown", { waiting: p.waiting });
    case "service_full":
      return t("pause-service_full", { waiting: p.waiting });
    case "disk_full":
      return t("pause-disk_full", { waiting: p.waiting, keep: formatBytes(p.keep_free_bytes) });
    case "folder_unavailable":
      return t(`pause-folder_unavailable-${p.why}`, { folder: p.folder });
    case "account_frozen":
      return p.deletes_at ? t("pause-account_frozen", { date: day(p.deletes_at) }) : t("pause-account_frozen_undated");
    case "account_deleted":
      return t("pause-account_deleted");
    case "large_folder":
      return t("pause-large_folder", { path: p.remote_path, size: formatBytes(p.bytes) });
    case "mount_gone":
      return t("pause-mount_gone", { folder: p.folder, path: p.path });
  }
}

export function failure(f: Failure): string {
  switch (f.kind) {
    case "offline":
      return offline(f.cause);
    case "local_database":
      return t(f.disk_full ? "failure-local_database_full" : "failure-local_database");
    case "service":
      return t("failure-service", { code: f.code });
    default:
      return t(`failure-${f.kind}`);
  }
}

export function change(c: RecordedChange): string {
  switch (c.kind) {
    case "moved_on_service":
    case "moved_here":
      return t(`change-${c.kind}`, { from: c.from, to: c.to });
    case "conflict_kept":
      return t("change-conflict_kept", { path: c.path, copy: c.copy });
    default:
      return t(`change-${c.kind}`, { path: c.path });
  }
}

function opFailure(f: OpFailure): string {
  if (f.kind === "local") return t(f.error === "other" ? "op-local_other" : `op-${f.error}`);
  return t(`op-${f.kind}`);
}

export function problem(p: Problem): string {
  switch (p.kind) {
    case "blocked": {
      const why = p.why;
      if (why.kind === "unreadable") return t("problem-blocked-unreadable", { path: p.path, reason: t(`read-${why.error}`) });
      if (why.kind === "in_the_way") return t(`problem-blocked-${why.what}`, { path: p.path });
      return t(`problem-blocked-${why.kind}`, { path: p.path });
    }
    case "failing":
      return t("problem-failing", { path: p.path, reason: opFailure(p.error), time: clock(p.retry_at) });
    case "refused_name":
      return t("problem-refused_name", { dir: p.dir || t("top-folder"), name: p.name, reason: t(`name-${p.why}`) });
    case "not_here":
    case "folder_loop":
    case "bad_hash":
    case "outside_folder":
      return t(`problem-${p.kind}`, { path: p.path });
    case "unwatched":
      return t("problem-unwatched", { folders: p.folders, seconds: p.every_secs });
    case "unreadable_part":
      return t("problem-unreadable_part");
    case "ignore_file":
      return t(`problem-ignore_file-${p.broken}`);
  }
}

export function notice(n: Notice): string {
  return t(`notice-${n.kind}`);
}
