#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the ledger tests.
#
#   bash .ci/postgres.sh start DIR   # DIR: an empty folder this script may fill; prints
#                                    # "URL PASSWORD" (the URL carries no password: ledger.url
#                                    # refuses one, so it goes through PGPASSWORD)
#   bash .ci/postgres.sh stop DIR    # stops that server (whatever state it is in)
#
# The port is a free one picked at start, and everything the server writes stays in DIR, so a
# server left over from an earlier run can neither collide with nor be mistaken for this one.
# Installs Debian's postgresql package when the machine has none (CI runs as root).
set -euo pipefail
ACTION="${1:?usage: postgres.sh start|stop DIR}"
DIR="${2:?usage: postgres.sh start|stop DIR}"

bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_postgres() { su postgres -s /bin/bash -c "$1"; }

stop() {
  [ -d "$DIR/data" ] || return 0
  local bin
  bin="$(bin_dir)"
  if [ -n "$bin" ] && as_postgres "$bin/pg_ctl -D '$DIR/data' -m immediate -w -t 20 stop" \
      >/dev/null 2>&1; then
    return 0
  fi
  # pg_ctl could not stop it (or is gone): kill the postmaster named in its pid file.
  if [ -f "$DIR/data/postmaster.pid" ]; then
    kill -9 "$(head -n 1 "$DIR/data/postmaster.pid")" 2>/dev/null || true
  fi
}

start() {
  if [ -z "$(bin_dir)" ]; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >&2 ||
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  fi
  local bin port password
  bin="$(bin_dir)"
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  chmod 755 "$DIR"
  chown postgres "$DIR"
  printf '%s\n' "$password" >"$DIR/pwfile"
  chown postgres "$DIR/pwfile"
  as_postgres "$bin/initdb -D '$DIR/data' -U postgres --auth-local=trust --auth-host=scram-sha-256 --pwfile='$DIR/pwfile' >'$DIR/initdb.log' 2>&1"
  rm -f "$DIR/pwfile"
  as_postgres "$bin/pg_ctl -D '$DIR/data' -o \"-p $port -k '$DIR' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" -l '$DIR/log' -w -t 60 start >/dev/null"
  as_postgres "$bin/psql -h '$DIR' -p $port -U postgres -qc \"CREATE ROLE bot LOGIN CREATEDB PASSWORD '$password'\""
  as_postgres "$bin/psql -h '$DIR' -p $port -U postgres -qc 'CREATE DATABASE bot OWNER bot'"
  echo "postgresql+psycopg://bot@127.0.0.1:$port/bot $password"
}

case "$ACTION" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: postgres.sh start|stop DIR" >&2; exit 2 ;;
esac
