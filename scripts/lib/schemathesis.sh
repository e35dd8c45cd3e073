# schemathesis, the API contract test of tests/it/contract.rs; sourced by scripts/test.
#
# schemathesis_ensure: installs schemathesis (pinned) once into a venv at
# target/schemathesis-venv (or under $CARGO_TARGET_DIR) and exports SIGHTLINE_SCHEMATHESIS, the
# path of its command. Without python3, venv or pip it says in one line that the contract test
# will be skipped, and leaves the variable unset.

SCHEMATHESIS_VERSION=4.32.5

schemathesis_ensure() {
  if [ -n "${SIGHTLINE_SCHEMATHESIS:-}" ]; then
    return 0
  fi
  local skip="note: the API contract test (tests/it/contract.rs) will be skipped:"
  command -v python3 >/dev/null 2>&1 || { echo "$skip python3 is not on PATH" >&2; return 0; }
  local target="${CARGO_TARGET_DIR:-$PWD/target}"
  local venv="$target/schemathesis-venv"
  local marker="$venv/.schemathesis-$SCHEMATHESIS_VERSION"
  if [ ! -f "$marker" ] || ! "$venv/bin/schemathesis" --version >/dev/null 2>&1; then
    rm -rf "$venv"
    mkdir -p "$target"
    if ! python3 -m venv "$venv" >"$target/schemathesis-venv.log" 2>&1; then
      rm -rf "$venv"
      echo "$skip 'python3 -m venv' failed (details in $target/schemathesis-venv.log)" >&2
      return 0
    fi
    echo "installing schemathesis==$SCHEMATHESIS_VERSION into $venv (once)" >&2
    if ! "$venv/bin/python" -m pip install --disable-pip-version-check -q \
        "schemathesis==$SCHEMATHESIS_VERSION" >>"$target/schemathesis-venv.log" 2>&1; then
      rm -rf "$venv"
      echo "$skip pip could not install schemathesis==$SCHEMATHESIS_VERSION (details in $target/schemathesis-venv.log)" >&2
      return 0
    fi
    touch "$marker"
  fi
  export SIGHTLINE_SCHEMATHESIS="$venv/bin/schemathesis"
}
