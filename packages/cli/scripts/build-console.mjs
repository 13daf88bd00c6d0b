// The audit console's production bundle: the browser app (console-app/main.js with uPlot and
// the stylesheets it imports) bundled and minified by esbuild into dist/console-app/, which the
// console serves from /assets (no CDN, no node_modules at run time: works offline, and the
// published package carries it in `dist`). Run by `pnpm build` and by `pnpm install`'s
// postinstall (so scripts/setup.sh builds it); `--check` only reports whether it is current.
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(pkg, 'console-app');
const out = join(pkg, 'dist', 'console-app');

const newest = (dir) => Math.max(...readdirSync(dir).map((f) => statSync(join(dir, f)).mtimeMs));

if (process.argv.includes('--check')) {
  const bundle = join(out, 'console.js');
  const current = existsSync(bundle) && statSync(bundle).mtimeMs >= newest(source);
  process.stdout.write(current ? 'console bundle is current\n' : 'console bundle is stale\n');
  process.exit(current ? 0 : 1);
}

mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: { console: join(source, 'main.js') },
  outdir: out,
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
  legalComments: 'eof',
  logLevel: 'warning',
  metafile: true,
});
const files = Object.entries(result.metafile.outputs).map(
  ([file, o]) => `${file.slice(file.lastIndexOf('/') + 1)} ${(o.bytes / 1024).toFixed(0)} KiB`,
);
process.stdout.write(`console bundle: ${files.join(', ')} in ${out}\n`);
