# moto, an independent AWS emulator, for the cross-check in tests/it/moto.rs; sourced by
# scripts/test after scripts/lib/pg.sh.
#
# moto_ensure: when MOTO_URL is set, uses that server; otherwise installs moto[server] (pinned)
# once into a venv at target/moto-venv (or $CARGO_TARGET_DIR/moto-venv), starts it on a free
# loopback port, exports MOTO_URL, and stops it when the calling script exits (chained before
# any EXIT trap already set, such as pg.sh's: call moto_ensure after pg_ensure). Without
# python3, venv or pip it says in one line that the cross-check is skipped, and leaves MOTO_URL
# unset.

MOTO_VERSION=5.2.5

moto_stop() {
  if [ -n "${MOTO_PID:-}" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
    MOTO_PID=""
  fi
}

moto_skip() {
  echo "note: the moto cross-check (tests/it/moto.rs) will be skipped: $1" >&2
}

# Prints a free loopback port (the kernel's choice; it is free again once printed).
moto_free_port() {
  "$1" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

moto_ensure() {
  if [ -n "${MOTO_URL:-}" ]; then
    echo "using the moto server at MOTO_URL" >&2
    return 0
  fi
  command -v python3 >/dev/null 2>&1 || { moto_skip "python3 is not on PATH"; return 0; }
  local target="${CARGO_TARGET_DIR:-$PWD/target}"
  local venv="$target/moto-venv"
  # The marker is written last, so an interrupted install is redone from scratch; a venv whose
  # interpreter has gone (python3 upgraded) is too.
  local marker="$venv/.moto-$MOTO_VERSION"
  if [ ! -f "$marker" ] || ! "$venv/bin/python" -c 'import moto.server' >/dev/null 2>&1; then
    rm -rf "$venv"
    mkdir -p "$target"
    if ! python3 -m venv "$venv" >"$target/moto-venv.log" 2>&1; then
      rm -rf "$venv"
      moto_skip "'python3 -m venv' failed (install python3-venv; details in $target/moto-venv.log)"
      return 0
    fi
    if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
      rm -rf "$venv"
      moto_skip "the venv has no pip (install python3-pip / python3-venv)"
      return 0
    fi
    echo "installing moto[server]==$MOTO_VERSION into $venv (once)" >&2
    if ! "$venv/bin/python" -m pip install --disable-pip-version-check -q \
        "moto[server]==$MOTO_VERSION" >>"$target/moto-venv.log" 2>&1; then
      rm -rf "$venv"
      moto_skip "pip could not install moto[server]==$MOTO_VERSION (details in $target/moto-venv.log)"
      return 0
    fi
    touch "$marker"
  fi

  local old_exit
  old_exit=$(trap -p EXIT)
  old_exit=${old_exit#trap -- }
  old_exit=${old_exit% EXIT}
  eval "old_exit=${old_exit:-''}"
  # shellcheck disable=SC2064 # expand the earlier trap now, once
  trap "moto_stop; ${old_exit:-:}" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  local log="$target/moto-server.log" port try i url
  for try in 1 2 3 4 5; do
    port=$(moto_free_port "$venv/bin/python")
    url="http://127.0.0.1:$port"
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    MOTO_PID=$!
    for i in $(seq 1 150); do
      if ! kill -0 "$MOTO_PID" 2>/dev/null; then
        break
      fi
      if "$venv/bin/python" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
          "$url/moto-api/data.json" >/dev/null 2>&1; then
        export MOTO_URL="$url"
        echo "started moto $MOTO_VERSION at $MOTO_URL (stopped on exit; log in $log)" >&2
        return 0
      fi
      sleep 0.2
    done
    moto_stop
  done
  tail -5 "$log" >&2
  echo "error: the moto server did not start (log in $log)" >&2
  exit 1
}
