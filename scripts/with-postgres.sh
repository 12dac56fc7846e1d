#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL server (Debian's package) on
# 127.0.0.1, its URL in NUBO_TEST_POSTGRES and its certificate's CA in
# NUBO_TEST_POSTGRES_CA; the server and its files go away afterwards. Durability is off (fsync): nothing here outlives the command.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "PostgreSQL is not installed: run make deps (package postgresql)"; exit 1; }
dir=$(mktemp -d /tmp/nubo-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# initdb refuses to run as root: the server runs as Debian's postgres user then.
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
fi
stop() {
  "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
# A certificate for 127.0.0.1 from a CA of its own, as an operator would
# make one: the service reaches the server over TLS verified against that CA
# (NUBO_TEST_POSTGRES_CA); plain connections are accepted too (test setup).
( cd "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=Nubo test CA" -keyout ca.key -out ca.pem 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=127.0.0.1" -keyout server.key -out server.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile ext.cnf -out server.crt 2>/dev/null
  chmod 600 server.key
  [ ${#as_pg[@]} -eq 0 ] || chown postgres server.key server.crt )
"${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U nubo --auth=trust -E UTF8 >/dev/null
"${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c max_connections=300 \
      -c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key" \
  start >/dev/null || { cat "$dir/server.log"; exit 1; }
NUBO_TEST_POSTGRES="postgres://nubo@127.0.0.1:$port/postgres" NUBO_TEST_POSTGRES_CA="$dir/ca.pem" "$@"
