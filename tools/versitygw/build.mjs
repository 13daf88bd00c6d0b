#!/usr/bin/env node
// Builds the pinned versitygw S3 gateway (see go.mod; Apache-2.0) into tools/versitygw/bin/versitygw:
// the S3 server with Object Lock that the archive tests and the archive benchmark run against.
//
// Rebuilds when the binary is missing or older than go.mod, go.sum or this script. Node builtins
// only, like tools/jaeger/build.mjs.
//
// Usage: node tools/versitygw/build.mjs [--force]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const binDir = join(here, 'bin');
const bin = join(binDir, 'versitygw');
const PKG = 'github.com/versity/versitygw/cmd/versitygw';
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

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: here, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (err) => {
      reject(
        err.code === 'ENOENT'
          ? new Error(
              `\`${cmd}\` was not found on PATH. Building the pinned versitygw binary needs the ` +
                'Go toolchain (the version in tools/versitygw/go.mod or newer): install it from ' +
                'https://go.dev/dl/, put its bin/ directory on PATH, then run `pnpm versitygw:build`.',
            )
          : err,
      );
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`\`${cmd} ${args.join(' ')}\` failed (${signal ?? `exit ${code}`})`));
    });
  });
}

async function main() {
  const reason = staleReason();
  if (!reason) {
    console.error(`versitygw: ${bin} is up to date`);
    return;
  }
  const started = Date.now();
  console.error(`versitygw: building ${PKG} (${reason}); a first build takes minutes…`);
  const ticker = setInterval(() => {
    console.error(`versitygw: still building… ${Math.round((Date.now() - started) / 1000)} s`);
  }, 15_000);
  ticker.unref();
  // Build next to the target and rename: a test starting meanwhile never sees half a binary.
  const tmp = join(binDir, `versitygw.tmp-${process.pid}`);
  try {
    mkdirSync(binDir, { recursive: true });
    await run('go', ['build', '-trimpath', '-o', tmp, PKG]);
    renameSync(tmp, bin);
    console.error(`versitygw: built ${bin} in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    clearInterval(ticker);
    rmSync(tmp, { force: true });
  }
}

main().catch((err) => {
  console.error(`versitygw: ${err.message}`);
  process.exitCode = 1;
});
