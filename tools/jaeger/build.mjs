#!/usr/bin/env node
// Builds the pinned Jaeger v2 binary (see go.mod) into tools/jaeger/bin/jaeger.
//
// Rebuilds when the binary is missing or older than go.mod, go.sum or this script (the pin or
// the build flags changed). Node builtins only: this runs before `pnpm install` has finished
// in some CI paths, and it must not depend on the workspace it serves.
//
// Usage: node tools/jaeger/build.mjs [--force]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const binDir = join(here, 'bin');
const bin = join(binDir, 'jaeger');
const JAEGER_PKG = 'github.com/jaegertracing/jaeger/cmd/jaeger';
const JAEGER_MODULE = 'github.com/jaegertracing/jaeger';
const inputs = ['go.mod', 'go.sum', 'build.mjs'].map((f) => join(here, f));

const force = process.argv.includes('--force');

function staleReason() {
  if (force) return '--force given';
  if (!existsSync(bin)) return 'no binary yet';
  const built = statSync(bin).mtimeMs;
  for (const input of inputs) {
    if (existsSync(input) && statSync(input).mtimeMs > built) {
      return `${input.slice(here.length + 1)} is newer than the binary`;
    }
  }
  return undefined;
}

/** Runs a command, resolves with its stdout; rejects with a message naming the fix. */
function run(cmd, args, { capture = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: here,
      stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'],
      env: process.env,
    });
    let out = '';
    child.stdout?.on('data', (chunk) => {
      out += chunk;
    });
    child.on('error', (err) => {
      if (err.code === 'ENOENT') {
        reject(
          new Error(
            `\`${cmd}\` was not found on PATH. Building the pinned Jaeger binary needs the Go ` +
              'toolchain (the version in tools/jaeger/go.mod or newer): install it from ' +
              'https://go.dev/dl/ and put its bin/ directory on PATH, then run ' +
              '`pnpm jaeger:build` again.',
          ),
        );
      } else {
        reject(err);
      }
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`\`${cmd} ${args.join(' ')}\` failed (${signal ?? `exit ${code}`})`));
    });
  });
}

// The Jaeger repository tags every release twice (v1.N for the module, v2.M for the binary);
// its CHANGELOG heads each release "v1.76.0 / v2.13.0". Stamping the v2 version into the binary
// makes `jaeger version` say what users know it as.
//
// A tag's CHANGELOG does not always head its own release (v1.75.0's newest heading is
// "v1.74.0 / v2.11.0"; v1.76.0's CHANGELOG heads "v1.75.0 / v2.12.0"). Then the v2 version is
// derived from the newest heading, provided every heading since v2.0.0 keeps the same distance
// between the two minor numbers (one v2 minor per v1 minor); otherwise the build fails.
function releaseVersion(moduleVersion, changelog) {
  const escaped = moduleVersion.replaceAll('.', '\\.');
  const own = new RegExp(`^${escaped}\\s*/\\s*(v2\\.\\d+\\.\\d+)`, 'm').exec(changelog);
  if (own) return { version: own[1], how: 'its CHANGELOG heading' };
  const wanted = /^v1\.(\d+)\.(\d+)$/.exec(moduleVersion);
  const headings = [...changelog.matchAll(/^v1\.(\d+)\.(\d+) \/ v2\.(\d+)\.(\d+)/gm)].map((m) => ({
    v1: Number(m[1]),
    v2: Number(m[3]),
    text: m[0],
  }));
  if (!wanted || headings.length === 0) return undefined;
  const offsets = new Set(headings.map((h) => h.v1 - h.v2));
  const newest = headings.reduce((a, b) => (b.v1 > a.v1 ? b : a));
  if (offsets.size !== 1 || Number(wanted[1]) <= newest.v1) return undefined;
  const [offset] = offsets;
  return {
    version: `v2.${Number(wanted[1]) - offset}.${wanted[2]}`,
    how: `its CHANGELOG's newest heading "${newest.text}" (every v1.N / v2.M heading has N − M = ${offset})`,
  };
}

async function versionFlags() {
  const moduleVersion = (
    await run('go', ['list', '-m', '-f', '{{.Version}}', JAEGER_MODULE], {
      capture: true,
    })
  ).trim();
  let binaryVersion = moduleVersion;
  try {
    const dir = (
      await run('go', ['list', '-m', '-f', '{{.Dir}}', JAEGER_MODULE], {
        capture: true,
      })
    ).trim();
    const changelog = readFileSync(join(dir, 'CHANGELOG.md'), 'utf8');
    const found = releaseVersion(moduleVersion, changelog);
    if (!found) {
      throw new Error(
        `cannot tell which Jaeger v2 release ${JAEGER_MODULE} ${moduleVersion} is: its ` +
          'CHANGELOG.md neither heads it nor keeps one v2 minor per v1 minor. Add the mapping ' +
          'to releaseVersion() in tools/jaeger/build.mjs from the upstream CHANGELOG.',
      );
    }
    binaryVersion = found.version;
    console.error(`jaeger: ${moduleVersion} is Jaeger ${binaryVersion} (from ${found.how})`);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
    // The module source is not downloaded yet; `go build` fetches it. Stamp the module version.
  }
  const pkg = `${JAEGER_MODULE}/internal/version`;
  return {
    moduleVersion,
    binaryVersion,
    ldflags: `-X ${pkg}.latestVersion=${binaryVersion} -X ${pkg}.commitSHA=${moduleVersion}`,
  };
}

async function main() {
  const reason = staleReason();
  if (!reason) {
    console.error(`jaeger: ${bin} is up to date`);
    return;
  }
  const started = Date.now();
  console.error(`jaeger: building ${JAEGER_PKG} (${reason}); a first build takes minutes…`);
  const ticker = setInterval(() => {
    console.error(`jaeger: still building… ${Math.round((Date.now() - started) / 1000)} s`);
  }, 15_000);
  ticker.unref();
  // Build next to the target and rename: a test starting meanwhile never sees half a binary.
  const tmp = join(binDir, `jaeger.tmp-${process.pid}`);
  try {
    mkdirSync(binDir, { recursive: true });
    // `go mod download` first so the CHANGELOG is there to read the v2 version from.
    await run('go', ['mod', 'download', JAEGER_MODULE]);
    const { moduleVersion, binaryVersion, ldflags } = await versionFlags();
    await run('go', ['build', '-trimpath', '-ldflags', ldflags, '-o', tmp, JAEGER_PKG]);
    renameSync(tmp, bin);
    console.error(
      `jaeger: built ${bin} (module ${moduleVersion} = Jaeger ${binaryVersion}) in ${Math.round(
        (Date.now() - started) / 1000,
      )} s`,
    );
  } finally {
    clearInterval(ticker);
    rmSync(tmp, { force: true });
  }
}

main().catch((err) => {
  console.error(`jaeger: ${err.message}`);
  process.exitCode = 1;
});
