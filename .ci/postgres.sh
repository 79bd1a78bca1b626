#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on loopback for the ledger tests; print its URL.
# Installs Debian's postgresql package when the machine has none (CI runs as root).
set -euo pipefail
PORT="${BOT_CI_PG_PORT:-54329}"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
DIR=$(mktemp -d /tmp/bot-ci-pg.XXXXXX)
chown postgres "$DIR"
su postgres -c "$BIN/initdb -D $DIR/data -A trust -U postgres >/dev/null"
su postgres -c "$BIN/pg_ctl -D $DIR/data -o '-p $PORT -k $DIR -c listen_addresses=127.0.0.1' -l $DIR/log -w start >/dev/null"
su postgres -c "$BIN/psql -h 127.0.0.1 -p $PORT -U postgres -qc \"CREATE ROLE bot LOGIN CREATEDB PASSWORD 'bot'\""
su postgres -c "$BIN/psql -h 127.0.0.1 -p $PORT -U postgres -qc 'CREATE DATABASE bot OWNER bot'"
echo "postgresql+psycopg://bot:bot@127.0.0.1:$PORT/bot"
