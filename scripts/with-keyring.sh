#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with a fresh, unlocked GNOME
# keyring, as a desktop session would have. Used by `make test` for the
# tests that need a real keyring.
set -euo pipefail
keyring_home=$(mktemp -d)
trap 'rm -rf "$keyring_home"' EXIT
export XDG_DATA_HOME="$keyring_home"
# A non-empty password makes the daemon create the login keyring without a prompt.
dbus-run-session -- bash -c 'echo -n nubo-test-keyring | gnome-keyring-daemon --unlock --components=secrets >/dev/null && "$@"' _ "$@"
