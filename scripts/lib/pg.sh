# A throwaway PostgreSQL cluster for scripts, sourced by scripts/test and scripts/bench.
#
# pg_ensure: when DATABASE_URL is set, uses that server; otherwise initdb's a cluster in a temp
# directory, starts it on a free port (loopback and a private unix socket), exports
# DATABASE_URL, and stops and deletes it when the calling script exits (also on Ctrl-C).
# SIGHTLINE_PG_SEARCH replaces /usr/lib/postgresql as the place to look for server binaries.

pg_find_bin() {
  local d
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"
    return 0
  fi
  for d in $(ls -d "${SIGHTLINE_PG_SEARCH:-/usr/lib/postgresql}"/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

pg_stop() {
  if [ -n "${PG_TMP:-}" ] && [ -d "$PG_TMP" ]; then
    $PG_AS "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
  fi
}

pg_ensure() {
  if [ -n "${DATABASE_URL:-}" ]; then
    echo "using the Postgres server at DATABASE_URL" >&2
    return 0
  fi
  PG_BIN=$(pg_find_bin) || {
    echo "error: no PostgreSQL server binaries (initdb, pg_ctl) found on PATH or in /usr/lib/postgresql/*/bin: install the 'postgresql' package (apt-get install postgresql), or set DATABASE_URL to a server you have" >&2
    exit 1
  }
  PG_TMP=$(mktemp -d /tmp/sightline-pg.XXXXXX)
  PG_AS=""
  if [ "$(id -u)" = 0 ]; then
    # Postgres refuses to run as root: hand the cluster to the postgres user.
    id postgres >/dev/null 2>&1 || { echo "error: running as root and there is no 'postgres' user to run the server as" >&2; exit 1; }
    chmod 755 "$PG_TMP"
    PG_AS="runuser -u postgres --"
  fi
  mkdir -p "$PG_TMP/data" "$PG_TMP/sock"
  [ -n "$PG_AS" ] && chown postgres "$PG_TMP/data" "$PG_TMP/sock"
  trap pg_stop EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  $PG_AS "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres -A trust --no-sync >"$PG_TMP/initdb.log" 2>&1 || {
    cat "$PG_TMP/initdb.log" >&2; echo "error: initdb failed" >&2; exit 1; }
  local port try
  for try in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 40000))
    if $PG_AS "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/sock/server.log" -w -t 30 \
        -o "-p $port -k $PG_TMP/sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null 2>&1; then
      export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
      echo "started a private Postgres at $DATABASE_URL (data in $PG_TMP, removed on exit)" >&2
      return 0
    fi
  done
  tail -5 "$PG_TMP/sock/server.log" >&2
  echo "error: the private Postgres did not start" >&2
  exit 1
}
