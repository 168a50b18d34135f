#!/usr/bin/env bash
# Make sure Debian's Chromium (and strace) is installed for the browser tests (tests/browser), which drive it
# through Playwright with executable_path=/usr/bin/chromium (Playwright's own browser download is
# not used). Does nothing when it is already there; otherwise installs the `chromium` package with
# apt-get, as root or through sudo, and fails with a clear message when neither is possible.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

# strace watches Chromium in tests/browser/test_no_network.py (no connection off the machine).
if [[ -x "$CHROMIUM" ]] && command -v strace >/dev/null 2>&1; then
    exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
    AS_ROOT=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    AS_ROOT=(sudo -n)
else
    echo "ensure_chromium: $CHROMIUM is missing and cannot be installed: not root and no password-less sudo." >&2
    echo "ensure_chromium: install it as root with: apt-get update && apt-get install -y chromium" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: $CHROMIUM is missing and apt-get is not available to install it (Debian's chromium package is expected)." >&2
    exit 1
fi

echo "ensure_chromium: installing Debian's chromium and strace packages (needed by tests/browser)..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
    || ! "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium strace >/dev/null; then
    echo "ensure_chromium: apt-get could not install chromium (are the package sources reachable?)." >&2
    exit 1
fi

if [[ ! -x "$CHROMIUM" ]]; then
    echo "ensure_chromium: the chromium package was installed but $CHROMIUM is still missing." >&2
    exit 1
fi
echo "ensure_chromium: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed." >&2
