#!/usr/bin/env bash
# The headless demo behind `make run`: a local service with the demo account,
# and two client homes that keep demo/pc-a and demo/pc-b in sync through it.
set -euo pipefail
NUBO=${NUBO:-target/debug/nubo}
DEMO=${DEMO:-demo}
PORT=${PORT:-8787}
URL=http://127.0.0.1:$PORT
mkdir -p "$DEMO"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$NUBO" serve --data "$DEMO/service" --listen "127.0.0.1:$PORT" --demo > "$DEMO/service.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$DEMO/service.log" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$DEMO/service.log" || { cat "$DEMO/service.log"; echo "the service did not start"; exit 1; }

for pc in pc-a pc-b; do
  home="$DEMO/$pc-home"
  echo nubo-demo | NUBO_TOKEN_STORE=file "$NUBO" --home "$home" login "$URL" demo --password-stdin > /dev/null
  NUBO_TOKEN_STORE=file "$NUBO" --home "$home" agreements --accept --adult --push > /dev/null
  "$NUBO" --home "$home" folder add "$DEMO/$pc" > /dev/null
done
[ -e "$DEMO/pc-a/welcome.txt" ] || echo "Files you put in demo/pc-a appear in demo/pc-b, and back." > "$DEMO/pc-a/welcome.txt"
for pc in pc-a pc-b; do
  NUBO_DEVICE_NAME=$pc "$NUBO" --home "$DEMO/$pc-home" sync > "$DEMO/$pc.log" 2>&1 &
  pids+=($!)
done

app_line="  app:      no display here, so the desktop app was not started"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x "${NUBO_APP:-}" ]; then
  NUBO_HOME="$DEMO/app-home" NUBO_SERVER="$URL" "$NUBO_APP" > "$DEMO/app.log" 2>&1 &
  pids+=($!)
  app_line="  app:      the desktop app opened its first-run wizard (sign in as demo / nubo-demo)"
fi

cat <<MSG

Nubo demo is running.
  service:  $URL  (account: demo, password: nubo-demo; log: $DEMO/service.log)
  pc-a:     $DEMO/pc-a   (status: $NUBO --home $DEMO/pc-a-home status)
  pc-b:     $DEMO/pc-b   (status: $NUBO --home $DEMO/pc-b-home status)
$app_line
Put, edit, rename or delete files in either folder and watch the other.
Ctrl-C stops everything; \`make demo-clean\` removes the demo data.
MSG
wait
