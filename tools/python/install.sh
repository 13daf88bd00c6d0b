#!/usr/bin/env bash
# Installs the pinned OpenTelemetry Python SDK into tools/python/venv (idempotent: does
# nothing when the venv already holds exactly the pinned versions). scripts/setup.sh runs it;
# the cross-language test (test/integration/python-otel-exchange.test.ts) uses
# tools/python/venv/bin/python.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/venv"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "python: $python not found; install Python >= 3.9 (e.g. apt-get install python3 python3-venv) or set PYTHON=/path/to/python3, then rerun bash tools/python/install.sh" >&2
  exit 1
fi
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "python: OpenTelemetry SDK already installed in tools/python/venv"
  exit 0
fi
if ! "$python" -m venv --clear "$venv" >/dev/null 2>&1; then
  echo "python: '$python -m venv' failed; install the venv module (e.g. apt-get install python3-venv), then rerun bash tools/python/install.sh" >&2
  exit 1
fi
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"; then
  echo "python: installing $req from PyPI failed (see pip's message above); check network access to PyPI (or PIP_INDEX_URL), then rerun bash tools/python/install.sh" >&2
  exit 1
fi
echo "$want" >"$stamp"
echo "python: OpenTelemetry SDK $(sed -n 's/^opentelemetry-sdk==//p' "$req") in tools/python/venv"
