#!/usr/bin/env bash
# Installs everything agent-audit needs on a fresh machine: pnpm (pinned), the
# workspace's dependencies (better-sqlite3 compiled against the local Node headers),
# and builds the TypeScript packages. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=12.4.2
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm@$PNPM_VERSION"
  npm install -g "pnpm@$PNPM_VERSION" --no-fund --no-audit >/dev/null
fi

# better-sqlite3 has no prebuilt binary reachable here, so node-gyp compiles it and
# needs the Node headers. pnpm does not pass npm's `nodedir` setting to build scripts;
# hand it over explicitly when npm knows where the headers are.
# Without them node-gyp tries to download the headers, which fails without internet.
if [ -z "${npm_config_nodedir:-}" ]; then
  nodedir="$(npm config get nodedir 2>/dev/null || true)"
  if [ -z "$nodedir" ] || [ "$nodedir" = "undefined" ] || [ ! -d "$nodedir/include/node" ]; then
    # The headers installed with this Node itself (e.g. /usr/include/node for /usr/bin/node).
    nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  fi
  if [ -f "$nodedir/include/node/node.h" ]; then
    export npm_config_nodedir="$nodedir"
  else
    echo "setup: no Node.js headers found (looked in npm's nodedir and $nodedir/include/node);" >&2
    echo "setup: better-sqlite3 will need network access to fetch them, or install your distribution's nodejs headers package" >&2
  fi
fi

if [ "${CI:-}" = "true" ]; then
  pnpm install --frozen-lockfile
else
  pnpm install
fi

# The pinned Node 22 for the framework integrations that need it (ai@7, openai@7): their
# tests (`pnpm test:node22`, part of `pnpm test`), benchmark arms and demos run under it.
node tools/node/install.mjs

# The real OpenTelemetry Python SDK (pinned, tools/python/requirements.txt) in a venv under
# tools/python/, for the cross-language run-context test (test/integration/python-otel-exchange.test.ts).
bash tools/python/install.sh
# Debian's Chromium for the console's browser tests (a no-op when `chromium` is on PATH).
bash tools/chromium/install.sh || echo "setup: chromium is missing; the console's browser tests will fail until it is installed" >&2
# The pinned Apache Kafka broker (jars from Maven Central, run on Java 17+) for the fleet
# tests and the `kafka` bench arm (tools/kafka/install.mjs; needs `java` and `mvn`).
node tools/kafka/install.mjs
