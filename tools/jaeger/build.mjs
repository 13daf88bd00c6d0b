#!/usr/bin/env node
// Builds the pinned Jaeger v2 binary (see go.mod) into tools/jaeger/bin/jaeger, stamped with the
// Jaeger v2 release the pinned module is. Rebuilt when stale (tools/go-build.mjs says when).
//
// Usage: node tools/jaeger/build.mjs [--force]
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGoBinary } from '../go-build.mjs';

const JAEGER_MODULE = 'github.com/jaegertracing/jaeger';

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

async function versionFlags(run) {
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

await buildGoBinary({
  name: 'jaeger',
  dir: dirname(fileURLToPath(import.meta.url)),
  pkg: `${JAEGER_MODULE}/cmd/jaeger`,
  script: 'jaeger:build',
  what: 'the pinned Jaeger binary',
  async prepare(run) {
    // `go mod download` first so the CHANGELOG is there to read the v2 version from.
    await run('go', ['mod', 'download', JAEGER_MODULE]);
    const { moduleVersion, binaryVersion, ldflags } = await versionFlags(run);
    return { ldflags, describe: `module ${moduleVersion} = Jaeger ${binaryVersion}` };
  },
});
