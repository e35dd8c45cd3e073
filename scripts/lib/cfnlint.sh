# cfn-lint for deploy/aws/: installed once into a venv at target/cfn-lint-venv; sourced by
# scripts/test. Without python3 or venv it says in one line that the check is skipped.

CFN_LINT_VERSION=1.58.0

cfn_lint_check() {
  command -v python3 >/dev/null 2>&1 || { echo "note: cfn-lint skipped: python3 is not on PATH" >&2; return 0; }
  local target="${CARGO_TARGET_DIR:-$PWD/target}"
  local venv="$target/cfn-lint-venv"
  local marker="$venv/.cfn-lint-$CFN_LINT_VERSION"
  if [ ! -f "$marker" ] || ! "$venv/bin/cfn-lint" --version >/dev/null 2>&1; then
    rm -rf "$venv"
    mkdir -p "$target"
    if ! python3 -m venv "$venv" >"$target/cfn-lint-venv.log" 2>&1 \
      || ! "$venv/bin/python" -m pip install -q "cfn-lint==$CFN_LINT_VERSION" >>"$target/cfn-lint-venv.log" 2>&1; then
      rm -rf "$venv"
      echo "note: cfn-lint skipped: could not install it (details in $target/cfn-lint-venv.log)" >&2
      return 0
    fi
    touch "$marker"
  fi
  "$venv/bin/cfn-lint" deploy/aws/*.yaml || { echo "error: cfn-lint found problems in deploy/aws/" >&2; exit 1; }
  echo "cfn-lint: deploy/aws/ is clean" >&2
}
