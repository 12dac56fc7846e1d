# Nubo's messages in English, for the app's front end and its tray
# (Project Fluent: https://projectfluent.org). Every message exists in every
# language with the same arguments; `cargo test -p nubo-ipc` checks it.

app-name = Nubo
tray-up_to_date = Up to date
tray-syncing = { $count ->
    [one] Syncing { $count } file…
   *[other] Syncing { $count } files…
}
tray-reading = { $count ->
    [one] Reading { $count } file…
   *[other] Reading { $count } files…
}
tray-paused = Paused
tray-offline = Offline
tray-error = Error: { $message }
tray-action_needed = Action needed: { $message }
menu-open_folder = Open Nubo folder
menu-pause = Pause syncing
menu-pause_30m = For 30 minutes
menu-pause_2h = For 2 hours
menu-pause_forever = Until I resume
menu-resume = Resume syncing
menu-recent = Recent changes
menu-recent_empty = No changes yet
menu-status = Status…
menu-settings = Settings…
menu-legal = Privacy and legal…
menu-sign_out = Sign out
menu-quit = Quit Nubo
wizard-welcome-title = Welcome to Nubo
wizard-welcome-body = Nubo keeps a folder on this computer in sync with your cloud storage, and never loses a file doing it.
wizard-welcome-server = Service address
wizard-welcome-language = Language
wizard-next = Next
wizard-back = Back
wizard-signin-title = Sign in
wizard-signin-login = Account ID or phone number
wizard-signin-password = Password
wizard-signin-submit = Sign in
wizard-signin-note = Your password is sent once to sign in and never stored on this computer.
error-wrong_credentials = The account ID, phone number or password is wrong.
error-too_many_attempts = Too many sign-in attempts for this account or from this network. Try again at { $time }.
error-unreachable = Cannot reach the service. Check the address and your network connection.
error-bad_certificate = The service's certificate is not valid. Check the address; do not continue on an untrusted network.
error-insecure_address = This address is not secure. Use an https:// address (plain http:// only works on this computer).
error-other = Sign-in failed: { $message }
agreements-title = Agreements
agreements-progress = Document { $n } of { $total }
agreements-version = Version { $version }, effective { $effective }
agreements-only_in = This document is only available in { $language }.
agreements-scroll_hint = Read to the end to continue.
agreements-age = Are you 18 or older?
agreements-age_adult = Yes, I am 18 or older
agreements-age_guardian = I am under 18, and my parent or guardian has read these documents and agrees
agreements-push = Notify me of changes instantly (accept the push notification terms)
agreements-accept = Accept
agreements-decline = Decline and sign out
agreements-next_document = Next document
folder-title = Choose your Nubo folder
folder-local = Folder on this computer
folder-browse = Choose…
folder-remote = Folder on the service
folder-mode = How to sync
folder-mode-two_way = Two-way: changes on either side go to the other
folder-mode-upload_only = Back up: send changes from this computer only
folder-mode-download_only = Download: receive changes from the service only
folder-merge_note = If the folder already has files, they are merged with the service's, never wiped.
folder-start = Start syncing
done-title = You are all set
done-body = Nubo is syncing. You can close this window: Nubo keeps running in the tray.
status-title = Status
status-state = State
status-recent = Recent changes
status-conflicts = Conflicts
status-conflict_item = { $path }: this computer's version was kept as { $copy }
status-problems = Not synced
status-none = Nothing yet
settings-title = Settings
settings-language = Language
settings-folders = Folders
legal-title = Privacy and legal
legal-accepted = Accepted version { $version } on { $date } ({ $locale })
language-en = English
language-zh-CN = 简体中文
agreements-read_push = Read these terms
settings-start_at_login = Start Nubo when I log in
status-files_left = { $total ->
    [one] { $left } of { $total } file left
   *[other] { $left } of { $total } files left
}
status-bytes_left = { $left } of { $total } left
status-speed = { $speed }/s
status-time_left = about { $time } left
settings-selective = Folders on this computer
settings-selective_hint = Unticked folders stay on the service but are not kept on this computer.
settings-exclude_confirm = Remove { $path } from this computer? It stays on the service, and its files here go to the trash.
settings-exclude_yes = Remove from this computer
settings-cancel = Cancel
status-storage = Storage: { $used } of { $quota } used
status-show_both = Show both
settings-ignore = Files not to sync
settings-ignore_hint = One pattern per line, like .gitignore (for example *.log or build/).
settings-save = Save
settings-saved = Saved
settings-logs = Open the logs folder
settings-bandwidth = Bandwidth
settings-upload_limit = Upload limit (kB/s, 0 = none)
settings-download_limit = Download limit (kB/s, 0 = none)
settings-folder_paused = Paused
settings-devices = Devices signed in to this account
settings-this_device = this computer
settings-revoke = Sign out
tray-need_sign_in = sign in to start syncing
tray-need_agreements = accept the service's agreements
tray-need_folder = choose a folder to sync
settings-add_folder = Add a folder
settings-remove_folder = Stop syncing
settings-remove_confirm = Stop syncing { $path }? Its files stay on this computer and on the service.
menu-restore = Restore deleted files…
restore-title = Restore
restore-search = Search deleted files by name
restore-empty = { $days ->
    [one] Nothing was deleted in the last day.
   *[other] Nothing was deleted in the last { $days } days.
}
restore-no_match = Nothing deleted matches “{ $query }”.
restore-deleted_by = deleted { $time } by { $device }
restore-folder_files = { $count ->
    [one] folder, { $count } file, { $size }
   *[other] folder, { $count } files, { $size }
}
restore-restore_selected = Restore selected ({ $count })
restore-restoring = Restoring { $done } of { $total }…
restore-done = Files restored: { $count }. They are back in your Nubo folder and shown in the file manager.
restore-failed = Not restored: { $message }
restore-error = Could not reach the service's trash: { $message }. Check the connection and try again.
restore-retry = Try again
restore-versions_title = Earlier versions of { $path }
restore-current = current
restore-as_current = Restore this version
restore-as_copy = Restore as a copy
restore-no_versions = The service keeps no earlier versions of this file yet: each time it changes, the old content is kept here.
restore-back = Back to deleted files
restore-earlier_versions = Earlier versions…
restore-retention = Deleted files and earlier versions are kept for { $days } days. A folder comes back with everything in it; nothing is overwritten (a taken name gets “(restored DATE)”).
restore-done_title = Files restored
restore-done_body = Files restored: { $count }. They are back in your Nubo folder.
restore-done_remote = Files restored on the service: { $count }. This computer does not sync the folder they are in.
restore-more = Show more
restore-unknown_device = another device
restore-open = Restore deleted files…
status-waiting = Waiting for you
status-waiting_item = The new folder { $path } on the service holds { $size }.
status-download_folder = Download it
status-keep_off = Keep it on the service only
wizard-signin-with_code = Sign in with a code from another device instead
wizard-signin-with_password = Sign in with the password instead
wizard-signin-code_title = Approve this computer from another device
wizard-signin-code_body = On a computer already signed in, run “nubo approve { $code }”, or open { $url } (scan the QR code with your phone) and enter the code with your account.
wizard-signin-code_waiting = Waiting for approval…
wizard-signin-code_again = Get a new code
status-what_to_do = What to do
status-action_mass_delete = Delete them on the other side too
status-action_sign_in_again = Sign in again to reactivate the account
status-action_sign_out = Sign out (your files stay)
settings-last_seen = last seen { $time }
settings-account = Account
settings-push = Instant change notifications: changes from other devices arrive at once through the push service (its terms apply). Off: Nubo checks every minute.
settings-cancel_account = Cancel the account…
settings-cancel_confirm = This deletes the account { $account } and everything it stores on the service, for every device. Files on your computers stay. Type the account ID to confirm.
settings-cancel_type = Account ID
settings-cancel_keep = Keep the account
settings-cancel_go = Delete the account
agreements-age_minor = If you are under 18 and no parent or guardian agrees, choose “Decline and sign out”.
agreements-previous_document = Previous document
agreements-outdated = A newer version of a document was published while you read it. Please read the new version.
agreements-upcoming = New terms take effect on { $date } (version { $version }).
legal-current = Version { $version }, effective { $effective }
legal-record-accepted = You accepted version { $version } on { $date }, in { $language }
legal-record-withdrawn = You withdrew your consent to version { $version } on { $date }
legal-record-declined = You declined version { $version } on { $date }
legal-not_answered = Not accepted
legal-optional = Optional
legal-read = Read
legal-read_accepted = Read the version you accepted
legal-error = Cannot load the documents: { $message }
legal-back = Back
wizard-welcome-legal = Privacy and legal
settings-password = Change the password…
settings-password_current = Current password
settings-password_new = New password
settings-password_sign_out = Also sign out my other devices
settings-password_go = Change the password
settings-password_done = The password is changed.
settings-export = Download everything…
settings-export_trash = Include the trash
settings-export_progress = { $done } of { $total } files
settings-export_done = { $files ->
    [one] { $files } file downloaded; { $unchanged } were there already.
   *[other] { $files } files downloaded; { $unchanged } were there already.
}
settings-cancel_lost = The service stores { $files } files ({ $bytes }), { $trash_files } files in the trash ({ $trash_bytes }) and { $versions } earlier versions ({ $version_bytes }) for this account. All of it is deleted.
settings-cancel_only_there = Kept only on the service, not on this computer:

## What the engine reports, one message per kind (crates/engine/src/report.rs,
## problem.rs). Never a command line: the app offers the action itself.

tray-action_pauses = { $count ->
    [one] { $first }
   *[other] { $first } (and { $more } more)
}

pause-mass_delete = Paused: syncing { $folder } would delete { $local } files here and { $remote } on the service. Restore the missing files, or confirm that they should be deleted.
pause-agreements_required = { $count ->
    [one] Paused: accept the new version of { $documents }.
   *[other] Paused: accept the new versions of { $documents }.
}
pause-storage_full = { $waiting ->
    [one] Uploads paused: your storage on the service is full ({ $used } of { $quota } used); { $waiting } file waits. Free some space or upgrade your plan.
   *[other] Uploads paused: your storage on the service is full ({ $used } of { $quota } used); { $waiting } files wait. Free some space or upgrade your plan.
}
pause-storage_full_unknown = { $waiting ->
    [one] Uploads paused: your storage on the service is full; { $waiting } file waits. Free some space or upgrade your plan.
   *[other] Uploads paused: your storage on the service is full; { $waiting } files wait. Free some space or upgrade your plan.
}
pause-service_full = { $waiting ->
    [one] Uploads paused: the service's own disk is full (not your plan); { $waiting } change waits until its operator frees space.
   *[other] Uploads paused: the service's own disk is full (not your plan); { $waiting } changes wait until its operator frees space.
}
pause-disk_full = { $waiting ->
    [one] Downloads paused: this computer's disk is too full; { $waiting } file waits. Free some space (Nubo leaves { $keep } free for your other programs).
   *[other] Downloads paused: this computer's disk is too full; { $waiting } files wait. Free some space (Nubo leaves { $keep } free for your other programs).
}
pause-folder_unavailable-missing = Paused: { $folder } is missing, or its drive is not connected. Nothing was changed.
pause-folder_unavailable-other_folder = Paused: { $folder } belongs to another Nubo folder. Nothing was changed.
pause-folder_unavailable-marker_lost = Paused: { $folder } lost its Nubo marker, so it may be an empty mount point. Nothing was changed; if the folder is right, add it again in Settings.
pause-account_frozen = Stopped: the account was frozen after a year unused. Sign in again before { $date } to reactivate it, or its files on the service are deleted. Nothing here was deleted.
pause-account_frozen_undated = Stopped: the account was frozen after a year unused. Sign in again to reactivate it. Nothing here was deleted.
pause-account_deleted = Stopped: the account was deleted on the service. Nothing here was deleted.
pause-large_folder = Waiting: the new folder { $path } on the service holds { $size }. Download it, or keep it on the service only.
pause-mount_gone = Paused: { $path } in { $folder } was another disk, and that disk is gone. Nothing in it was changed, here or on the service. Connect the disk again.

failure-no_folders = There is no folder to sync: add one in Settings.
failure-signed_out = Signed out by the service: sign in again.
failure-local_database = The state database on this computer cannot be read or written.
failure-local_database_full = The disk is full: the state database on this computer cannot be written.
failure-local = A file Nubo keeps on this computer could not be used.
failure-service = The service answered with an error ({ $code }).
failure-did_not_settle = Syncing did not settle; the logs say why.
failure-home_busy = Another Nubo is already syncing these folders.
net-connect = no connection
net-timed_out = no answer in time
net-certificate = its certificate is not valid
net-broken = the connection broke
status-offline_cause = Offline: { $cause }.

change-uploaded = Uploaded { $path }
change-downloaded = Downloaded { $path }
change-moved_on_service = Moved on the service: { $from } → { $to }
change-moved_here = Moved here: { $from } → { $to }
change-conflict_kept = Conflict: this computer's version of { $path } was kept as { $copy }
change-trashed_on_service = Moved to the service's trash: { $path }
change-trashed_here = Moved to the trash: { $path }
change-trashed_with_folder = Moved to the trash with its folder (not synced): { $path }

problem-blocked-unreadable = { $path } cannot be read ({ $reason }); it is left as it is, here and on the service.
problem-blocked-symlink = { $path } is a symbolic link, which is not synced; nothing is written through it.
problem-blocked-special = { $path } is a device, pipe or socket, which is not synced.
problem-blocked-mount_changed = { $path } was another disk and is empty now; nothing in it was changed.
problem-blocked-nested_root = { $path } is another synced folder; it is left out of this one.
problem-blocked-failing = { $path } waits for its next try.
problem-failing = { $path } could not be synced ({ $reason }); trying again at { $time }.
problem-refused_name = A name from the service was refused in { $dir }: { $name } ({ $reason }).
problem-not_here = { $path } cannot be created on this computer.
problem-folder_loop = The service lists the folder { $path } inside itself; it is left out.
problem-bad_hash = The service lists the file { $path } with a content hash that is not one; it is left out.
problem-outside_folder = { $path } is outside the folder and is not synced.
problem-unreadable_part = Part of the folder could not be read.
problem-ignore_file-line_skipped = A line of .nuboignore is not a valid pattern and was skipped.
problem-ignore_file-unusable = .nuboignore could not be used; only the built-in rules apply.
problem-unwatched = { $folders ->
    [one] { $folders } folder is not watched (the system's limit on file watches is reached); its changes are seen by a scan every { $seconds } s.
   *[other] { $folders } folders are not watched (the system's limit on file watches is reached); their changes are seen by a scan every { $seconds } s.
}
read-permission_denied = permission denied
read-name_too_long = its path is too long for this computer
read-vanished = it went away while it was read
read-other = a read error
op-permission_denied = permission denied
op-not_found = it was not found
op-already_exists = something else is in its place
op-local_other = a read or write failed
op-changed = it changed while it was synced
op-through_link = it lies behind a symbolic link
op-damaged = the service sent damaged content
op-service = the service refused it
op-offline = the service could not be reached
op-local_database = the state database could not record it
op-disk_full = the disk is full
op-did_not_take = what was done did not take on this disk
name-empty = the name is empty
name-dot_or_dot_dot = “.” and “..” are not names
name-separator = the name contains “/”
name-nul = the name contains a NUL character
name-too_long = the name is longer than 255 bytes
name-not_a_spelling = not how this computer spells a name on disk
top-folder = the top folder

notice-database_rebuilt = The state database was damaged and was rebuilt. Nothing was deleted; where this computer and the service differed, both versions were kept.
notice-service_rewound = The service went back in time (it was restored from an older copy). Nubo compared this computer with it again: nothing was deleted, and where the two differed both versions were kept.
status-database_damaged = The state database on this computer cannot be read. It is left as it is; the next sync sets it aside and rebuilds it, deleting nothing.
status-notice = Note
