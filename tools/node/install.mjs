#!/usr/bin/env node
// Installs the pinned Node.js 22 that the framework integrations need (`ai@7` and `openai@7`
// declare Node >= 22) into tools/node/dist/, and points tools/node/bin/node at it. The
// workspace itself runs on the Node that installed it (>= 20.19); only the `*.node22.test.ts`
// files, the benchmark arms and the demos that need Node 22 run under this binary.
//
// The binary comes from the npm registry (the `node-<platform>-<arch>` package that the `node`
// package installs), so no other host has to be reachable. Its tarball is checked against the
// pinned SHA-512 for linux-x64 and against the registry's integrity for other platforms.
// Node builtins only; safe to run again (a no-op when the pinned binary is in place).
//
// Usage: node tools/node/install.mjs [--quiet]   (prints the binary's path on stdout)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NODE22_VERSION = '22.23.5';
const PINNED_INTEGRITY = {
  'linux-x64':
    'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
};

const here = dirname(fileURLToPath(import.meta.url));
const platform = `${process.platform}-${process.arch}`;
const target = join(here, 'dist', `v${NODE22_VERSION}-${platform}`);
const targetBin = join(target, 'bin', 'node');
const link = join(here, 'bin', 'node');
const quiet = process.argv.includes('--quiet');
const say = (msg) => {
  if (!quiet) process.stderr.write(`node22: ${msg}\n`);
};

function versionOf(bin) {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

function fail(msg) {
  process.stderr.write(`node22: ${msg}\n`);
  process.exit(1);
}

function install() {
  const pkg = `node-${platform}@${NODE22_VERSION}`;
  const work = mkdtempSync(join(here, '.download-'));
  try {
    say(`fetching ${pkg} from the npm registry (~50 MB)`);
    let file;
    try {
      file = execFileSync('npm', ['pack', pkg, '--silent', '--pack-destination', work], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      })
        .trim()
        .split('\n')
        .pop();
    } catch (err) {
      fail(
        `\`npm pack ${pkg}\` failed (${err.message.split('\n')[0]}). The registry must serve ` +
          `${pkg}; on a platform it does not serve, install Node ${NODE22_VERSION} yourself and ` +
          `link it at ${relative(process.cwd(), link)}.`,
      );
    }
    const tgz = join(work, file);
    const integrity = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
    const expected =
      PINNED_INTEGRITY[platform] ??
      execFileSync('npm', ['view', pkg, 'dist.integrity'], { encoding: 'utf8' }).trim();
    if (integrity !== expected) {
      fail(`${file}: integrity ${integrity} does not match the pinned ${expected}; not installed`);
    }
    execFileSync('tar', ['-xzf', tgz, '-C', work, 'package/bin/node', 'package/LICENSE']);
    rmSync(target, { recursive: true, force: true });
    mkdirSync(dirname(target), { recursive: true });
    renameSync(join(work, 'package'), target);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (versionOf(targetBin) !== `v${NODE22_VERSION}`) install();
const got = versionOf(targetBin);
if (got !== `v${NODE22_VERSION}`) fail(`${targetBin} does not run (got ${got ?? 'no output'})`);

// tools/node/bin/node → the pinned binary (replaced atomically when the pin changes).
mkdirSync(dirname(link), { recursive: true });
const tmpLink = `${link}.${process.pid}`;
symlinkSync(relative(dirname(link), targetBin), tmpLink);
renameSync(tmpLink, link);
// Older pins left behind in dist/ are removed.
for (const name of readdirSync(join(here, 'dist'))) {
  if (join(here, 'dist', name) !== target) {
    rmSync(join(here, 'dist', name), { recursive: true, force: true });
  }
}
say(`Node ${got} at ${relative(process.cwd(), link)}`);
process.stdout.write(`${link}\n`);
