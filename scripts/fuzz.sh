#!/usr/bin/env bash
# `make fuzz`: Schemathesis generates requests from the service's own OpenAPI
# document and sends them to a real `nubo serve` on 127.0.0.1, signed in as a
# real account. Any 5xx answer is a bug. Usage: scripts/fuzz.sh NUBO ST [EXAMPLES]
set -euo pipefail
NUBO=$1
ST=$2
EXAMPLES=${3:-60}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT

echo fuzz-password | "$NUBO" admin add-account --data "$work/data" fuzzer --password-stdin
"$NUBO" serve --data "$work/data" --listen 127.0.0.1:0 > "$work/out" 2> "$work/log" &
pid=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$work/out" 2>/dev/null && break
  sleep 0.1
done
url=$(awk '/listening on/ {print $NF}' "$work/out")
[ -n "$url" ] || { echo "the service did not start:"; cat "$work/log"; exit 1; }

token=$(curl -sf -X POST "$url/v1/auth/login" -H 'content-type: application/json' \
  -d '{"login":"fuzzer","password":"fuzz-password","device_name":"fuzz"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# Only the one check that is a bug by definition here: no server errors.
# Leaving out what ends the session being fuzzed (sign-out, revoking this
# device, cancelling the account): every later request would only get 401.
"$ST" run "$url/v1/openapi.json" \
  --exclude-path-regex '^/v1/(auth/logout|devices/\{id\}/revoke|account/cancel)$' \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error \
  --max-examples "$EXAMPLES" \
  --workers 2 \
  --seed 1 \
  --no-color
