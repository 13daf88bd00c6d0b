// Builds a pinned Go binary for a tools/<name>/ folder (its go.mod and go.sum pin it): the one
// mechanism behind tools/jaeger/build.mjs and tools/versitygw/build.mjs.
//
// Rebuilds when the binary is missing or older than go.mod, go.sum, the tool's build.mjs or this
// file (the pin or the build flags changed); builds next to the target and renames, so a test
// starting meanwhile never sees half a binary. Node builtins only: this runs before
// `pnpm install` has finished in some CI paths, and it must not depend on the workspace it serves.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);

/**
 * Runs a command in `cwd`; resolves with its stdout when `capture`, rejects with a message naming
 * the fix (install Go, then `pnpm <script>`).
 */
export function runIn(cwd, cmd, args, { capture = false, what = 'this binary', script } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'],
      env: process.env,
    });
    let out = '';
    child.stdout?.on('data', (chunk) => {
      out += chunk;
    });
    child.on('error', (err) => {
      reject(
        err.code === 'ENOENT'
          ? new Error(
              `\`${cmd}\` was not found on PATH. Building ${what} needs the Go toolchain (the ` +
                `version in its go.mod or newer): install it from https://go.dev/dl/, put its bin/ ` +
                `directory on PATH, then run \`pnpm ${script}\` again.`,
            )
          : err,
      );
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`\`${cmd} ${args.join(' ')}\` failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/**
 * `node tools/<name>/build.mjs [--force]`: builds `pkg` into `<dir>/bin/<name>` when stale.
 * `prepare(run)` (optional) runs first and returns `{ ldflags?, describe? }` for `go build`
 * and the final message. Sets the exit code to 1 with the reason on failure.
 */
export async function buildGoBinary({ name, dir, pkg, script, what, prepare }) {
  const binDir = join(dir, 'bin');
  const bin = join(binDir, name);
  const run = (cmd, args, options = {}) => runIn(dir, cmd, args, { what, script, ...options });
  try {
    const reason = staleReason(dir, bin);
    if (!reason) {
      console.error(`${name}: ${bin} is up to date`);
      return;
    }
    const started = Date.now();
    console.error(`${name}: building ${pkg} (${reason}); a first build takes minutes…`);
    const ticker = setInterval(() => {
      console.error(`${name}: still building… ${Math.round((Date.now() - started) / 1000)} s`);
    }, 15_000);
    ticker.unref();
    const tmp = join(binDir, `${name}.tmp-${process.pid}`);
    try {
      mkdirSync(binDir, { recursive: true });
      const { ldflags, describe } = (await prepare?.(run)) ?? {};
      await run('go', [
        'build',
        '-trimpath',
        ...(ldflags ? ['-ldflags', ldflags] : []),
        '-o',
        tmp,
        pkg,
      ]);
      renameSync(tmp, bin);
      console.error(
        `${name}: built ${bin}${describe ? ` (${describe})` : ''} in ${Math.round((Date.now() - started) / 1000)} s`,
      );
    } finally {
      clearInterval(ticker);
      rmSync(tmp, { force: true });
    }
  } catch (err) {
    console.error(`${name}: ${err.message}`);
    process.exitCode = 1;
  }
}

function staleReason(dir, bin) {
  if (process.argv.includes('--force')) return '--force given';
  if (!existsSync(bin)) return 'no binary yet';
  const built = statSync(bin).mtimeMs;
  for (const input of [...['go.mod', 'go.sum', 'build.mjs'].map((f) => join(dir, f)), self]) {
    if (existsSync(input) && statSync(input).mtimeMs > built) {
      return `${input === self ? 'tools/go-build.mjs' : input.slice(dir.length + 1)} is newer than the binary`;
    }
  }
  return undefined;
}
