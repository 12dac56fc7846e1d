#!/usr/bin/env bash
# Photographs the tray menu of the real app: an XEmbed tray (trayer) under
# Xvfb, the app in a fresh home, a click on its icon. Used by `make screenshots`.
# Usage: scripts/tray-screenshot.sh NUBO_APP OUT.png
set -euo pipefail
app=$1; out=$2
if [ -z "${DISPLAY:-}" ]; then
  exec scripts/with-keyring.sh xvfb-run -a -s "-screen 0 1500x720x24" "$0" "$@"
fi
home=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$home"' EXIT
trayer --edge top --align right --widthtype request --height 32 --transparent false --tint 0x303030 &
sleep 1
NUBO_HOME=$home HOME=$home LANG=en_US.UTF-8 "$app" > "$home.log" 2>&1 &
for _ in $(seq 50); do xwininfo -root -tree | grep -q '"tray-icon' && break; sleep 0.2; done
pos=$(xwininfo -root -tree | grep '"tray-icon' | head -1 | grep -oE '\+[0-9]+\+[0-9]+$')
x=$(cut -d+ -f2 <<<"$pos"); y=$(cut -d+ -f3 <<<"$pos")
xdotool mousemove $((x + 16)) $((y + 15)) click 1
sleep 2
import -window root -crop 560x330+940+0 "$out"
echo "tray menu: $out"
