#!/usr/bin/env bash
# The load test: one, then two `nubo serve` instances on one PostgreSQL
# database (run under scripts/with-postgres.sh) and one chunk folder, loaded
# by nubo-load with more and more clients. Usage:
#   loadtest.sh NUBO NUBO_LOAD REPORT.md|- [nubo-load options...]
# With REPORT "-", only prints (make test runs a short, strict round so).
set -euo pipefail
nubo=$1 load=$2 report=$3
shift 3
# Clients are spread over this many accounts (each made with a password
# hash, which takes a moment).
accounts=${LOAD_ACCOUNTS:-20}
work=$(mktemp -d)
pids=()
# TLS to the database when with-postgres.sh gave it a certificate.
tls=()
[ -n "${NUBO_TEST_POSTGRES_CA:-}" ] && tls=(--database-ca "$NUBO_TEST_POSTGRES_CA")
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts an instance and waits for its "listening" line (a minute at most,
# for a loaded machine; at once if it exits); its URL in $served.
# (Not through $(...): a subshell's pids would not reach the cleanup.)
serve() {
  local db=$1 data=$2 port pid
  port=$(free_port)
  "$nubo" serve --database "$db" "${tls[@]}" --data "$data" --listen "127.0.0.1:$port" >"$work/serve-$port.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do
    if grep -q "listening" "$work/serve-$port.log" 2>/dev/null; then
      served="http://127.0.0.1:$port"
      return
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$work/serve-$port.log" >&2
  exit 1
}

run() {
  local instances=$1 db args=()
  shift
  psql -q "$NUBO_TEST_POSTGRES" -c "CREATE DATABASE load_$instances"
  db="${NUBO_TEST_POSTGRES%/*}/load_$instances"
  "$nubo" admin migrate --database "$db" "${tls[@]}" >/dev/null
  for i in $(seq "$accounts"); do
    echo "load-test" | "$nubo" admin add-account --database "$db" "${tls[@]}" "load-$i" --password-stdin >/dev/null
  done
  # Started one after the other: the first has migrated before the second looks.
  for _ in $(seq "$instances"); do
    serve "$db" "$work/data-$instances"
    args+=(--url "$served")
  done
  "$load" "${args[@]}" --accounts "$accounts" "$@" | tee "$work/out-$instances"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}

run 1 "$@"
run 2 "$@"

[ "$report" = - ] && exit 0
{
  echo "# Load test"
  echo
  echo "\`make loadtest\`, $(date -u +%Y-%m-%d): one, then two \`nubo serve\` instances (release build) on one"
  echo "PostgreSQL $(psql -tA "$NUBO_TEST_POSTGRES" -c 'show server_version' | cut -d' ' -f1) database and one chunk folder, all on this machine"
  echo "($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), together with the"
  echo "load generator (\`crates/load\`): the instances share the same two cores, so a second instance"
  echo "adds a second process, not more hardware. Each client holds the push stream open and changes"
  echo "a 4 KiB file once a second (upload a chunk, commit on the revision it last saw, read the feed)."
  echo "A step holds when nothing fails, the 95th percentile of a change stays under 1 s and at"
  echo "least 90% of the asked changes were made."
  echo
  for n in 1 2; do
    echo "## $n instance$([ "$n" = 2 ] && echo s)"
    echo
    echo '```'
    grep -v '^RESULT' "$work/out-$n"
    echo '```'
    echo
  done
  echo "## Result"
  echo
  echo "| instances | clients held | changes/s | p95 |"
  echo "|---|---|---|---|"
  for n in 1 2; do
    line=$(grep '^RESULT' "$work/out-$n")
    c=$(sed -n 's/.*clients=\([0-9]*\).*/\1/p' <<<"$line")
    r=$(sed -n 's/.*changes_per_sec=\([0-9.]*\).*/\1/p' <<<"$line")
    p=$(sed -n 's/.*p95_ms=\([0-9]*\).*/\1/p' <<<"$line")
    echo "| $n | $c | ${r:-} | ${p:+$p ms} |"
  done
} >"$report"
echo "wrote $report"
