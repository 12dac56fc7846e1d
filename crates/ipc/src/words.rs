//! The Rust side's words for the engine's reports, from the catalogs: what
//! the tray's lines and the notifications say. `ui/src/lib/words.ts` is its
//! twin for the web front end (the same message for the same kind).

use time::OffsetDateTime;

use crate::i18n::Catalog;
use crate::{
    Blocked, Failure, IgnoreFileProblem, LocalError, NameRule, Need, NetCause, Notice, OpFailure,
    Pause, Problem, ReadError, RecordedChange, RootProblem, TrayState, Unsynced,
};

/// Bytes for people: the app's one byte formatter on the Rust side.
pub fn bytes(n: u64) -> String {
    bytesize::ByteSize(n).display().si().to_string()
}

fn local(t: OffsetDateTime) -> OffsetDateTime {
    time::UtcOffset::current_local_offset().map_or(t, |o| t.to_offset(o))
}

/// A day, `YYYY-MM-DD`, in the local time zone.
pub fn day(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    local(t).format(fmt).unwrap_or_default()
}

/// A time of day, `HH:MM`, in the local time zone.
pub fn clock(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[hour]:[minute]");
    local(t).format(fmt).unwrap_or_default()
}

/// The tray's first line.
pub fn tray_line(c: &Catalog, state: &TrayState) -> String {
    match state {
        TrayState::UpToDate => c.get("tray-up_to_date", &[]),
        TrayState::Syncing { files_left, .. } => {
            c.get("tray-syncing", &[("count", (*files_left).into())])
        }
        TrayState::Reading { files_left, .. } => {
            c.get("tray-reading", &[("count", (*files_left).into())])
        }
        TrayState::Paused => c.get("tray-paused", &[]),
        TrayState::Offline { .. } => c.get("tray-offline", &[]),
        TrayState::Error { failure: f } => {
            c.get("tray-error", &[("message", failure(c, f).as_str().into())])
        }
        TrayState::ActionNeeded { need } => match need {
            Need::SignIn => need_line(c, "tray-need_sign_in"),
            Need::Agreements => need_line(c, "tray-need_agreements"),
            Need::Folder => need_line(c, "tray-need_folder"),
            Need::Pauses { pauses } => match pauses.first() {
                Some(first) => c.get(
                    "tray-action_pauses",
                    &[
                        ("count", pauses.len().into()),
                        ("more", (pauses.len() - 1).into()),
                        ("first", pause(c, first).as_str().into()),
                    ],
                ),
                None => c.get("tray-up_to_date", &[]),
            },
        },
    }
}

fn need_line(c: &Catalog, id: &str) -> String {
    c.get(
        "tray-action_needed",
        &[("message", c.get(id, &[]).as_str().into())],
    )
}

/// Why the service cannot be reached.
pub fn offline(c: &Catalog, cause: NetCause) -> String {
    let id = match cause {
        NetCause::Connect => "net-connect",
        NetCause::TimedOut => "net-timed_out",
        NetCause::Certificate => "net-certificate",
        NetCause::Broken => "net-broken",
    };
    c.get(
        "status-offline_cause",
        &[("cause", c.get(id, &[]).as_str().into())],
    )
}

pub fn pause(c: &Catalog, p: &Pause) -> String {
    match p {
        Pause::MassDelete {
            folder,
            local_files,
            remote_files,
            ..
        } => c.get(
            "pause-mass_delete",
            &[
                ("folder", folder.into()),
                ("local", (*local_files).into()),
                ("remote", (*remote_files).into()),
            ],
        ),
        Pause::AgreementsRequired { documents } => {
            let titles: Vec<String> = documents.iter().map(|d| format!("“{}”", d.title)).collect();
            let list = titles.join(", ");
            c.get(
                "pause-agreements_required",
                &[
                    ("count", documents.len().into()),
                    ("documents", list.as_str().into()),
                ],
            )
        }
        Pause::StorageFull { waiting, storage } => match storage {
            Some(s) => {
                let (used, quota) = (bytes(s.used_bytes), bytes(s.quota_bytes));
                c.get(
                    "pause-storage_full",
                    &[
                        ("waiting", (*waiting).into()),
                        ("used", used.as_str().into()),
                        ("quota", quota.as_str().into()),
                    ],
                )
            }
            None => c.get(
                "pause-storage_full_unknown",
                &[("waiting", (*waiting).into())],
            ),
        },
        Pause::ServiceFull { waiting } => {
            c.get("pause-service_full", &[("waiting", (*waiting).into())])
        }
        Pause::DiskFull {
            waiting,
            keep_free_bytes,
            ..
        } => {
            let keep = bytes(*keep_free_bytes);
            c.get(
                "pause-disk_full",
                &[
                    ("waiting", (*waiting).into()),
                    ("keep", keep.as_str().into()),
                ],
            )
        }
        Pause::FolderUnavailable { folder, why } => {
            let id = match why {
                RootProblem::Missing => "pause-folder_unavailable-missing",
                RootProblem::OtherFolder => "pause-folder_unavailable-other_folder",
                RootProblem::MarkerLost => "pause-folder_unavailable-marker_lost",
            };
            c.get(id, &[("folder", folder.into())])
        }
        Pause::AccountFrozen { deletes_at } => match deletes_at {
            Some(t) => {
                let date = day(*t);
                c.get("pause-account_frozen", &[("date", date.as_str().into())])
            }
            None => c.get("pause-account_frozen_undated", &[]),
        },
        Pause::AccountDeleted => c.get("pause-account_deleted", &[]),
        Pause::LargeFolder {
            remote_path,
            bytes: size,
        } => {
            let size = bytes(*size);
            c.get(
                "pause-large_folder",
                &[("path", remote_path.into()), ("size", size.as_str().into())],
            )
        }
        Pause::MountGone { folder, path } => c.get(
            "pause-mount_gone",
            &[("folder", folder.into()), ("path", path.into())],
        ),
    }
}

pub fn failure(c: &Catalog, f: &Failure) -> String {
    match f {
        Failure::NoFolders => c.get("failure-no_folders", &[]),
        Failure::Offline { cause } => offline(c, *cause),
        Failure::SignedOut => c.get("failure-signed_out", &[]),
        Failure::LocalDatabase { disk_full: true } => c.get("failure-local_database_full", &[]),
        Failure::LocalDatabase { disk_full: false } => c.get("failure-local_database", &[]),
        Failure::Local => c.get("failure-local", &[]),
        Failure::Service { code } => {
            let code = serde_json::to_value(code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            c.get("failure-service", &[("code", code.as_str().into())])
        }
        Failure::DidNotSettle => c.get("failure-did_not_settle", &[]),
        Failure::HomeBusy => c.get("failure-home_busy", &[]),
    }
}

pub fn change(c: &Catalog, ch: &RecordedChange) -> String {
    let one = |id: &str, path: &String| c.get(id, &[("path", path.into())]);
    let two = |id: &str, a: (&str, &String), b: (&str, &String)| {
        c.get(id, &[(a.0, a.1.into()), (b.0, b.1.into())])
    };
    match ch {
        RecordedChange::Uploaded { path } => one("change-uploaded", path),
        RecordedChange::Downloaded { path } => one("change-downloaded", path),
        RecordedChange::MovedOnService { from, to } => {
            two("change-moved_on_service", ("from", from), ("to", to))
        }
        RecordedChange::MovedHere { from, to } => {
            two("change-moved_here", ("from", from), ("to", to))
        }
        RecordedChange::ConflictKept { path, copy } => {
            two("change-conflict_kept", ("path", path), ("copy", copy))
        }
        RecordedChange::TrashedOnService { path } => one("change-trashed_on_service", path),
        RecordedChange::TrashedHere { path } => one("change-trashed_here", path),
        RecordedChange::TrashedWithFolder { path } => one("change-trashed_with_folder", path),
    }
}

pub fn problem(c: &Catalog, p: &Problem) -> String {
    match p {
        Problem::Blocked { path, why } => {
            let id = match why {
                Blocked::Unreadable { error } => {
                    let reason = c.get(
                        match error {
                            ReadError::PermissionDenied => "read-permission_denied",
                            ReadError::NameTooLong => "read-name_too_long",
                            ReadError::Vanished => "read-vanished",
                            ReadError::Other => "read-other",
                        },
                        &[],
                    );
                    return c.get(
                        "problem-blocked-unreadable",
                        &[("path", path.into()), ("reason", reason.as_str().into())],
                    );
                }
                Blocked::InTheWay {
                    what: Unsynced::Symlink,
                } => "problem-blocked-symlink",
                Blocked::InTheWay {
                    what: Unsynced::Special,
                } => "problem-blocked-special",
                Blocked::MountChanged => "problem-blocked-mount_changed",
                Blocked::NestedRoot => "problem-blocked-nested_root",
                Blocked::Failing => "problem-blocked-failing",
            };
            c.get(id, &[("path", path.into())])
        }
        Problem::Failing {
            path,
            error,
            retry_at,
        } => {
            let (reason, time) = (op_failure(c, error), clock(*retry_at));
            c.get(
                "problem-failing",
                &[
                    ("path", path.into()),
                    ("reason", reason.as_str().into()),
                    ("time", time.as_str().into()),
                ],
            )
        }
        Problem::RefusedName { dir, name, why } => {
            let dir = if dir.is_empty() {
                c.get("top-folder", &[])
            } else {
                dir.clone()
            };
            let reason = c.get(
                match why {
                    NameRule::Empty => "name-empty",
                    NameRule::DotOrDotDot => "name-dot_or_dot_dot",
                    NameRule::Separator => "name-separator",
                    NameRule::Nul => "name-nul",
                    NameRule::TooLong => "name-too_long",
                    NameRule::NotASpelling => "name-not_a_spelling",
                },
                &[],
            );
            c.get(
                "problem-refused_name",
                &[
                    ("dir", dir.as_str().into()),
                    ("name", name.into()),
                    ("reason", reason.as_str().into()),
                ],
            )
        }
        Problem::NotHere { path, .. } => c.get("problem-not_here", &[("path", path.into())]),
        Problem::FolderLoop { path } => c.get("problem-folder_loop", &[("path", path.into())]),
        Problem::BadHash { path } => c.get("problem-bad_hash", &[("path", path.into())]),
        Problem::OutsideFolder { path } => {
            c.get("problem-outside_folder", &[("path", path.into())])
        }
        Problem::Unwatched {
            folders,
            every_secs,
        } => c.get(
            "problem-unwatched",
            &[
                ("folders", (*folders).into()),
                ("seconds", (*every_secs).into()),
            ],
        ),
        Problem::UnreadablePart => c.get("problem-unreadable_part", &[]),
        Problem::IgnoreFile { broken } => c.get(
            match broken {
                IgnoreFileProblem::LineSkipped => "problem-ignore_file-line_skipped",
                IgnoreFileProblem::Unusable => "problem-ignore_file-unusable",
            },
            &[],
        ),
    }
}

fn op_failure(c: &Catalog, f: &OpFailure) -> String {
    let id = match f {
        OpFailure::Local { error } => match error {
            LocalError::PermissionDenied => "op-permission_denied",
            LocalError::NotFound => "op-not_found",
            LocalError::AlreadyExists => "op-already_exists",
            LocalError::Other => "op-local_other",
        },
        OpFailure::Changed => "op-changed",
        OpFailure::ThroughLink => "op-through_link",
        OpFailure::Damaged => "op-damaged",
        OpFailure::Service { .. } => "op-service",
        OpFailure::Offline => "op-offline",
        OpFailure::LocalDatabase => "op-local_database",
        OpFailure::DiskFull => "op-disk_full",
        OpFailure::DidNotTake => "op-did_not_take",
    };
    c.get(id, &[])
}

pub fn notice(c: &Catalog, n: &Notice) -> String {
    match n {
        Notice::DatabaseRebuilt { .. } => c.get("notice-database_rebuilt", &[]),
        Notice::ServiceRewound => c.get("notice-service_rewound", &[]),
    }
}

#[cfg(test)]
mod tests {
    //! Every kind the engine reports, put into words in each language: in
    //! Simplified Chinese no English sentence and no command line is left.

    use super::*;
    use crate::i18n::catalog;
    use crate::{PendingDocument, Storage};

    fn at() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_796_576_474).unwrap()
    }

    pub(super) fn every_pause() -> Vec<Pause> {
        vec![
            Pause::MassDelete {
                folder: "/家/文档".into(),
                local_files: 20,
                remote_files: 0,
                synced_files: 20,
            },
            Pause::AgreementsRequired {
                documents: vec![PendingDocument {
                    id: "terms".into(),
                    title: "服务条款".into(),
                    version: "2".into(),
                    effective: "2027-01-01".into(),
                }],
            },
            Pause::StorageFull {
                waiting: 3,
                storage: Some(Storage {
                    used_bytes: 10_000_000_000,
                    quota_bytes: 10_000_000_000,
                }),
            },
            Pause::StorageFull {
                waiting: 1,
                storage: None,
            },
            Pause::ServiceFull { waiting: 2 },
            Pause::DiskFull {
                waiting: 4,
                first: Some("视频/大.bin".into()),
                keep_free_bytes: 500_000_000,
            },
            Pause::FolderUnavailable {
                folder: "/家/文档".into(),
                why: RootProblem::Missing,
            },
            Pause::FolderUnavailable {
                folder: "/家/文档".into(),
                why: RootProblem::OtherFolder,
            },
            Pause::FolderUnavailable {
                folder: "/家/文档".into(),
                why: RootProblem::MarkerLost,
            },
            Pause::AccountFrozen {
                deletes_at: Some(at()),
            },
            Pause::AccountFrozen { deletes_at: None },
            Pause::AccountDeleted,
            Pause::LargeFolder {
                remote_path: "/视频".into(),
                bytes: 4_200_000_000,
            },
            Pause::MountGone {
                folder: "/家/文档".into(),
                path: "移动硬盘".into(),
            },
        ]
    }

    fn every_problem() -> Vec<Problem> {
        let path = || "照片/海滩.jpg".to_string();
        let mut out: Vec<Problem> = [
            ReadError::PermissionDenied,
            ReadError::NameTooLong,
            ReadError::Vanished,
            ReadError::Other,
        ]
        .into_iter()
        .map(|error| Problem::Blocked {
            path: path(),
            why: Blocked::Unreadable { error },
        })
        .collect();
        for why in [
            Blocked::InTheWay {
                what: Unsynced::Symlink,
            },
            Blocked::InTheWay {
                what: Unsynced::Special,
            },
            Blocked::MountChanged,
            Blocked::NestedRoot,
            Blocked::Failing,
        ] {
            out.push(Problem::Blocked { path: path(), why });
        }
        for error in [
            OpFailure::Local {
                error: LocalError::PermissionDenied,
            },
            OpFailure::Local {
                error: LocalError::NotFound,
            },
            OpFailure::Local {
                error: LocalError::AlreadyExists,
            },
            OpFailure::Local {
                error: LocalError::Other,
            },
            OpFailure::Changed,
            OpFailure::ThroughLink,
            OpFailure::Damaged,
            OpFailure::Service {
                code: nubo_protocol::ErrorCode::Conflict,
            },
            OpFailure::Offline,
            OpFailure::LocalDatabase,
            OpFailure::DiskFull,
            OpFailure::DidNotTake,
        ] {
            out.push(Problem::Failing {
                path: path(),
                error,
                retry_at: at(),
            });
        }
        for why in [
            NameRule::Empty,
            NameRule::DotOrDotDot,
            NameRule::Separator,
            NameRule::Nul,
            NameRule::TooLong,
            NameRule::NotASpelling,
        ] {
            out.push(Problem::RefusedName {
                dir: String::new(),
                name: "..".into(),
                why,
            });
        }
        out.extend([
            Problem::NotHere {
                path: "某".into(),
                why: "保留名称".into(),
            },
            Problem::FolderLoop { path: "圈".into() },
            Problem::OutsideFolder {
                path: "/家/外".into(),
            },
            Problem::Unwatched {
                folders: 30,
                every_secs: 60,
            },
            Problem::UnreadablePart,
            Problem::IgnoreFile {
                broken: IgnoreFileProblem::LineSkipped,
            },
            Problem::IgnoreFile {
                broken: IgnoreFileProblem::Unusable,
            },
        ]);
        out
    }

    fn every_change() -> Vec<RecordedChange> {
        let p = || "报告.txt".to_string();
        vec![
            RecordedChange::Uploaded { path: p() },
            RecordedChange::Downloaded { path: p() },
            RecordedChange::MovedOnService {
                from: p(),
                to: "旧/报告.txt".into(),
            },
            RecordedChange::MovedHere {
                from: p(),
                to: "旧/报告.txt".into(),
            },
            RecordedChange::ConflictKept {
                path: p(),
                copy: "报告（冲突副本）.txt".into(),
            },
            RecordedChange::TrashedOnService { path: p() },
            RecordedChange::TrashedHere { path: p() },
            RecordedChange::TrashedWithFolder { path: p() },
        ]
    }

    fn every_failure() -> Vec<Failure> {
        let mut out = vec![
            Failure::NoFolders,
            Failure::SignedOut,
            Failure::LocalDatabase { disk_full: true },
            Failure::LocalDatabase { disk_full: false },
            Failure::Local,
            Failure::Service {
                code: nubo_protocol::ErrorCode::Internal,
            },
            Failure::DidNotSettle,
            Failure::HomeBusy,
        ];
        for cause in [
            NetCause::Connect,
            NetCause::TimedOut,
            NetCause::Certificate,
            NetCause::Broken,
        ] {
            out.push(Failure::Offline { cause });
        }
        out
    }

    /// Every line the tray, the notifications and the status window can
    /// show for what the engine reported.
    fn every_line(lang: &str) -> Vec<String> {
        let c = catalog(lang);
        let mut lines: Vec<String> = every_pause().iter().map(|p| pause(c, p)).collect();
        lines.extend(every_problem().iter().map(|p| problem(c, p)));
        lines.extend(every_change().iter().map(|ch| change(c, ch)));
        lines.extend(every_failure().iter().map(|f| failure(c, f)));
        lines.extend(
            [
                Notice::ServiceRewound,
                Notice::DatabaseRebuilt { set_aside: None },
            ]
            .iter()
            .map(|n| notice(c, n)),
        );
        let states = [
            TrayState::UpToDate,
            TrayState::Paused,
            TrayState::Offline {
                cause: NetCause::Connect,
            },
            TrayState::Error {
                failure: Failure::HomeBusy,
            },
            TrayState::ActionNeeded { need: Need::SignIn },
            TrayState::ActionNeeded {
                need: Need::Agreements,
            },
            TrayState::ActionNeeded { need: Need::Folder },
            TrayState::ActionNeeded {
                need: Need::Pauses {
                    pauses: every_pause(),
                },
            },
        ];
        lines.extend(states.iter().map(|s| tray_line(c, s)));
        lines
    }

    /// Words of Latin letters that may stand in a Chinese line: the
    /// product's name, file names, byte units, the service's error code.
    const LATIN_ALLOWED: &[&str] = &[
        "Nubo",
        "nuboignore",
        "NUL",
        "jpg",
        "txt",
        "bin",
        "GB",
        "MB",
        "kB",
        "conflict",
        "internal",
    ];

    #[test]
    fn in_chinese_every_report_reads_from_the_chinese_catalog() {
        let (en, zh) = (every_line("en"), every_line("zh-CN"));
        assert_eq!(en.len(), zh.len());
        for (e, z) in en.iter().zip(&zh) {
            assert_ne!(e, z, "the same line in both languages: {z}");
            assert!(
                z.chars().any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch)),
                "no Chinese in: {z}"
            );
            for word in z
                .split(|ch: char| !ch.is_ascii_alphabetic())
                .filter(|w| w.len() > 1)
            {
                assert!(LATIN_ALLOWED.contains(&word), "English {word:?} in: {z}");
            }
            assert!(
                !z.contains('`') && !z.contains("nubo "),
                "a command line in: {z}"
            );
            assert!(
                !e.contains('`') && !e.contains("nubo "),
                "a command line in: {e}"
            );
        }
    }

    #[test]
    fn counts_take_the_plural_their_language_has() {
        let syncing = |lang, n: u32| {
            tray_line(
                catalog(lang),
                &TrayState::Syncing {
                    files_left: n,
                    files_total: n,
                    bytes_left: 0,
                    bytes_total: 0,
                },
            )
        };
        assert_eq!(syncing("en", 1), "Syncing 1 file…");
        assert_eq!(syncing("en", 3), "Syncing 3 files…");
        assert_eq!(syncing("zh-CN", 1), "正在同步 1 个文件…");
        let reading = |lang, n: u32| {
            tray_line(
                catalog(lang),
                &TrayState::Reading {
                    files_left: n,
                    files_total: n,
                    bytes_left: 0,
                    bytes_total: 0,
                },
            )
        };
        assert_eq!(reading("en", 1), "Reading 1 file…");
        assert_eq!(reading("en", 2), "Reading 2 files…");
        assert_eq!(reading("zh-CN", 2), "正在读取 2 个文件…");
    }
}
