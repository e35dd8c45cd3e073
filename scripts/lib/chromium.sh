# Headless Chromium for the browser tests of the pages (tests/it/browser.rs); sourced by
# scripts/test.
#
# chromium_ensure: uses SIGHTLINE_CHROMIUM when set; otherwise finds `chromium` on PATH or at
# /usr/bin/chromium, and when there is none installs Debian's `chromium` package (as root, with
# apt-get) or stops with the command to run (not root). Exports SIGHTLINE_CHROMIUM, which the
# tests read. They drive the browser over the DevTools protocol: no chromedriver, and never a
# downloaded browser.

chromium_find() {
  local c
  for c in "$(command -v chromium 2>/dev/null)" /usr/bin/chromium; do
    if [ -n "$c" ] && [ -x "$c" ]; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

chromium_ensure() {
  local bin target
  if [ -n "${SIGHTLINE_CHROMIUM:-}" ]; then
    bin=$SIGHTLINE_CHROMIUM
    [ -x "$bin" ] || { echo "error: SIGHTLINE_CHROMIUM=$bin is not an executable file" >&2; exit 1; }
  elif ! bin=$(chromium_find); then
    if [ "$(id -u)" != 0 ]; then
      echo "error: Chromium is not installed and the browser tests (tests/it/browser.rs) need it: run 'sudo apt-get install chromium', or set SIGHTLINE_CHROMIUM to a Chromium or Chrome binary" >&2
      exit 1
    fi
    command -v apt-get >/dev/null 2>&1 || {
      echo "error: Chromium is not installed and there is no apt-get to install it: install Chromium, or set SIGHTLINE_CHROMIUM to a Chromium or Chrome binary" >&2
      exit 1
    }
    target="${CARGO_TARGET_DIR:-$PWD/target}"
    mkdir -p "$target"
    echo "installing Debian's chromium for the browser tests (apt-get; log in $target/chromium-install.log)" >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
        >"$target/chromium-install.log" 2>&1; then
      tail -5 "$target/chromium-install.log" >&2
      echo "error: apt-get could not install chromium (log in $target/chromium-install.log)" >&2
      exit 1
    fi
    bin=$(chromium_find) || { echo "error: the chromium package is installed but there is no chromium binary" >&2; exit 1; }
  fi
  # Debian's wrapper script complains on stderr about its own environment checks: ignore that.
  local version
  version=$("$bin" --version 2>/dev/null) || {
    echo "error: $bin does not run ('$bin --version' failed): reinstall chromium" >&2
    exit 1
  }
  export SIGHTLINE_CHROMIUM="$bin"
  echo "browser tests: $version ($bin)" >&2
}
