// Builds the pinned Jaeger v2 binary (see go.mod) into tools/jaeger/bin/jaeger when missing.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, 'bin', 'jaeger');
if (!existsSync(bin)) {
  console.error('jaeger: building the pinned Jaeger binary (first run takes a few minutes)…');
  execFileSync('go', ['build', '-o', bin, 'github.com/jaegertracing/jaeger/cmd/jaeger'], {
    cwd: here,
    stdio: 'inherit',
  });
}
