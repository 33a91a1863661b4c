#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on loopback for the tests: initdb in a
# temporary folder, pg_ctl, a free port; no Docker. Prints one line,
# IAM_TEST_POSTGRES=postgres://…, to put in the environment of `npm test`.
# `scripts/postgres-test-cluster.sh stop DIR` stops and removes it.
# Needs Debian's postgresql package (the binaries in /usr/lib/postgresql/*/bin).
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ]; then
  echo "PostgreSQL is not installed: apt-get install postgresql" >&2
  exit 1
fi

# initdb refuses to run as root: the cluster belongs to the postgres user then.
run() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-}" = "stop" ]; then
  dir=$2
  run "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi

dir=$(mktemp -d /tmp/iam-pg-XXXXXX)
chmod 755 "$dir"
if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
run "$bindir/initdb" -D "$dir/data" -U iam --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1
# A test server: durability off (fsync, synchronous_commit) is a throwaway
# cluster's choice, never a production one; enough connections for parallel test files.
run "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
  "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null
echo "IAM_TEST_POSTGRES=postgres://iam@127.0.0.1:$port/postgres"
echo "IAM_TEST_POSTGRES_DIR=$dir"
