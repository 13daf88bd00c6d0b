// Regenerates the canonical-JSON numbers quoted in src/hash-value.ts and the README:
// canonicalJson vs the canonicalize package vs plain (unsorted) JSON.stringify, and hashValue
// vs the JSON.stringify + SHA-256 a bare span would do. Run after `tsc -b`:
//   pnpm --filter @agent-audit/instrumentation bench
// Interleaved rounds, median per case: drift on a shared machine hits every arm alike.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { canonicalJson, hashValue } from '../dist/index.js';

const ROUNDS = 21;
const ITERATIONS = 20_000;

/** ~1 KB with 39 short fields (the shape the repository's sdk bench uses). */
function wide() {
  const input = { query: 'refund status for order', page: 1, filters: {} };
  for (let i = 0; JSON.stringify(input).length < 1024; i++) {
    input.filters[`field_${i}`] = `value-${i}-${'x'.repeat(i % 7)}`;
  }
  return input;
}

/** ~1 KB dominated by one long string. */
function longString() {
  return {
    query: 'x'.repeat(700),
    filters: { a: 1, b: [1, 2, 3], c: 'hello' },
    limit: 10,
    tags: Array.from({ length: 20 }, (_, i) => `t${i}`),
  };
}

function timeUs(fn) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) fn();
  return Number(process.hrtime.bigint() - t0) / ITERATIONS / 1000;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const summary = {};
for (const [name, input] of [
  ['wide_1kb', wide()],
  ['long_string_1kb', longString()],
]) {
  const arms = {
    canonical_json_us: () => canonicalJson(input),
    canonicalize_us: () => canonicalize(input),
    json_stringify_us: () => JSON.stringify(input),
    hash_value_us: () => hashValue(input),
    stringify_sha256_us: () => createHash('sha256').update(JSON.stringify(input)).digest('hex'),
  };
  const samples = Object.fromEntries(Object.keys(arms).map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, fn] of Object.entries(arms)) samples[k].push(timeUs(fn));
  }
  for (const [k, xs] of Object.entries(samples))
    summary[`${name}_${k}`] = Number(median(xs).toFixed(2));
  summary[`${name}_vs_canonicalize`] = Number(
    (summary[`${name}_canonical_json_us`] / summary[`${name}_canonicalize_us`]).toFixed(2),
  );
}
process.stdout.write(`${JSON.stringify(summary)}\n`);
