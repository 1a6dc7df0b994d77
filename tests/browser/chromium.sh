# Sourced by the browser tests: find Chromium or fail saying how to install it.
CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [[ -z "$CHROMIUM" ]]; then
  echo "FAIL: chromium not found. Install it with: sudo apt-get install -y chromium" >&2
  echo "      (cmake/install-deps.sh, run by ./test.sh and ./run.sh, installs it)" >&2
  exit 1
fi
# Root needs --no-sandbox; a private profile keeps runs independent of each other.
chromium_headless() {
  local profile
  profile="$(mktemp -d)"
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$profile" --allow-file-access-from-files "$@"
  local rc=$?
  rm -rf "$profile"
  return $rc
}
