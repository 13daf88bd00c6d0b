#!/usr/bin/env bash
# Installs Debian's Chromium for the console's browser tests (a downloaded browser build does
# not run on these machines). Idempotent: a no-op when `chromium` is already on PATH.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  echo "chromium: $(command -v chromium) is installed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not on PATH and apt-get is not available; install Debian's chromium package (or any Chromium) so that \`chromium\` is on PATH, or set AGENT_AUDIT_CHROMIUM=/path/to/chromium" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium: not on PATH and this script is not running as root; run \`sudo apt-get install -y chromium\` (Debian's package), or set AGENT_AUDIT_CHROMIUM=/path/to/chromium" >&2
  exit 1
fi
echo "chromium: installing Debian's chromium package with apt-get"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends chromium >/dev/null; then
  apt-get update >/dev/null
  apt-get install -y --no-install-recommends chromium >/dev/null
fi
echo "chromium: $(command -v chromium) installed"
