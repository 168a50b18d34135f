#!/usr/bin/env bash
# Make sure GnuPG's gpg is installed for tests/routing/test_notice_openpgp.py, which checks scart's
# OpenPGP signatures and encryption with it (an implementation independent of the one scart uses;
# scart itself never needs gpg). Does nothing when it is there; otherwise installs Debian's gnupg
# package with apt-get, as root or through sudo, and fails with a clear message when it cannot.
set -euo pipefail

if command -v gpg >/dev/null 2>&1 && command -v gpgconf >/dev/null 2>&1; then
    exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
    AS_ROOT=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    AS_ROOT=(sudo -n)
else
    echo "ensure_gpg: gpg is missing and cannot be installed: not root and no password-less sudo." >&2
    echo "ensure_gpg: install it as root with: apt-get update && apt-get install -y gnupg" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_gpg: gpg is missing and apt-get is not available to install it (install GnuPG)." >&2
    exit 1
fi

echo "ensure_gpg: installing Debian's gnupg package (needed by the OpenPGP notice tests)..." >&2
if ! "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
    || ! "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnupg >/dev/null; then
    echo "ensure_gpg: apt-get could not install gnupg (are the package sources reachable?)." >&2
    exit 1
fi
echo "ensure_gpg: $(gpg --version | head -1) installed." >&2
