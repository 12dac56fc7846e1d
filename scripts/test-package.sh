#!/usr/bin/env bash
# Checks the .deb that `tauri build` made: what it installs, and that every
# package it depends on comes from Debian's archive. Prints one line per check
# and a closing "N passed, N failed".
set -uo pipefail
deb=${1:?usage: test-package.sh PATH.deb}
passed=0; failed=0
check() { # description, command...
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then echo "ok: $what"; passed=$((passed+1)); else echo "FAILED: $what"; failed=$((failed+1)); fi
}
contents=$(dpkg-deb -c "$deb")
has() { grep -q " \./$1\$" <<<"$contents" || grep -q " $1\$" <<<"$contents"; }
check "installs the app binary" has usr/bin/nubo-app
check "installs a desktop entry" has usr/share/applications/Nubo.desktop
for size in 32x32 128x128 256x256 512x512; do
  check "installs the $size icon" has "usr/share/icons/hicolor/$size/apps/nubo-app.png"
done
entry=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards '*usr/share/applications/Nubo.desktop')
check "the desktop entry runs nubo-app" grep -q '^Exec=nubo-app' <<<"$entry"
check "the desktop entry names its icon" grep -q '^Icon=nubo-app' <<<"$entry"
depends=$(dpkg-deb -f "$deb" Depends)
check "declares its dependencies" test -n "$depends"
for dep in $(tr ',' '\n' <<<"$depends" | sed 's/(.*)//; s/|.*//' | xargs); do
  check "dependency $dep comes from Debian's archive" bash -c "apt-cache show '$dep' | grep -q '^Package: $dep'"
done
check "the tray library is a dependency" grep -q appindicator <<<"$depends"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
