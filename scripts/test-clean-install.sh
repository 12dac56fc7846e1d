#!/usr/bin/env bash
# Installs the .deb with apt on a clean, minimal Debian (a debootstrap chroot,
# kept under ~/.cache/nubo and copied fresh for every run) and checks that
# everything it pulls in comes from Debian's archive and that the app's
# libraries all resolve. Needs root and Debian's mirror. Closing line:
# "N passed, N failed".
set -uo pipefail
deb=$(realpath "${1:?usage: test-clean-install.sh PATH.deb}")
base=${NUBO_CLEAN_DEBIAN:-$HOME/.cache/nubo/clean-debian}
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
mirror=${mirror:-http://deb.debian.org/debian}
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
if [ ! -x "$base/usr/bin/apt-get" ]; then
  rm -rf "$base"
  debootstrap --variant=minbase "$suite" "$base" "$mirror" >/dev/null || { echo "debootstrap failed"; exit 1; }
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
cp -a "$base/." "$root/"
cp "$deb" "$root/tmp/nubo.deb"
log=$(chroot "$root" /bin/bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /tmp/nubo.deb' 2>&1)
installed=$?

passed=0; failed=0
check() {
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then echo "ok: $what"; passed=$((passed+1)); else echo "FAILED: $what"; failed=$((failed+1)); fi
}
check "apt installs the package on a clean Debian" test "$installed" = 0
host=$(sed -E 's#^[a-z]+://([^/]+).*#\1#' <<<"$mirror")
foreign=$(grep -E '^Get:' <<<"$log" | grep -v "://$host/" | grep -v '/tmp/nubo.deb')
check "every dependency comes from Debian's archive ($host)" test -z "$foreign"
check "the package is installed" chroot "$root" dpkg -s nubo
check "every library of nubo-app resolves" bash -c "! chroot '$root' ldd /usr/bin/nubo-app | grep -q 'not found'"
check "the desktop entry is installed" test -f "$root/usr/share/applications/Nubo.desktop"
check "the app icon is installed" test -f "$root/usr/share/icons/hicolor/128x128/apps/nubo-app.png"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
