#!/usr/bin/env node
// redactString measured: throughput (MB/s) on ordinary agent traffic and on hostile text built
// from each rule's keywords, the growth from 1 MB to 4 MB of the slowest hostile cases (a linear
// scanner gives about 4x the time), and the strings flagged in text nobody tuned the rules on:
// every line of the README files of this workspace's installed dependencies. Run after
// `pnpm --silent build`:
//   node packages/instrumentation/bench/redaction.mjs
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { redactString } from '../dist/index.js';
import { REDACTION_RULES } from '../dist/redaction-rules.js';

const MB = 1 << 20;
const out = (line) => process.stdout.write(`${line}\n`);

function time(fn, minMillis = 300) {
  fn(); // warm-up
  let runs = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    fn();
    runs++;
    elapsed = performance.now() - start;
  } while (elapsed < minMillis);
  return elapsed / runs;
}

const corpus = readFileSync(
  new URL('../test/fixtures/redaction-corpus/ordinary-traffic.jsonl', import.meta.url),
  'utf8',
)
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line).text);
const corpusBytes = corpus.reduce((n, s) => n + s.length, 0);
const perString = time(() => {
  for (const s of corpus) redactString(s);
});
out(
  `ordinary traffic, ${corpus.length} strings one by one (${(corpusBytes / MB).toFixed(2)} MB): ` +
    `${(corpusBytes / MB / (perString / 1000)).toFixed(1)} MB/s, ` +
    `${((perString * 1000) / corpus.length).toFixed(2)} µs a string`,
);
const joined = corpus.join('\n');
const oneBlock = time(() => redactString(joined));
out(
  `ordinary traffic as one ${(joined.length / MB).toFixed(2)} MB string: ${(joined.length / MB / (oneBlock / 1000)).toFixed(1)} MB/s`,
);

const fill = (unit, size) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
const median = (fn, runs = 3) => {
  fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  return times.sort((x, y) => x - y)[Math.floor(runs / 2)];
};
const cases = [];
for (const rule of REDACTION_RULES) {
  const keywords = rule.keywords.length > 0 ? rule.keywords : ['12 ', '(12) ', '4-'];
  for (const k of keywords) {
    for (const unit of [k, `${k}A1b2C3d4-`, `${k}: "`, `${k}a:b@`, `${k}${'9'.repeat(12)} `]) {
      const one = fill(unit, MB);
      cases.push({ rule: rule.id, unit, ms: median(() => redactString(one), 1) });
    }
  }
}
cases.sort((x, y) => y.ms - x.ms);
const total = cases.reduce((n, c) => n + c.ms, 0);
out(
  `hostile text, ${cases.length} cases of 1 MB: ${(cases.length / (total / 1000)).toFixed(1)} MB/s overall; slowest ` +
    `${(1000 / cases[0].ms).toFixed(1)} MB/s (rule ${cases[0].rule}, ${JSON.stringify(cases[0].unit)} repeated)`,
);
// Linear time: the slowest cases, 1 MB against 4 MB (medians of three runs).
for (const c of cases.slice(0, 5)) {
  const t1 = median(() => redactString(fill(c.unit, MB)));
  const t4 = median(() => redactString(fill(c.unit, 4 * MB)));
  out(
    `  ${c.rule} ${JSON.stringify(c.unit)}: 1 MB ${t1.toFixed(0)} ms, 4 MB ${t4.toFixed(0)} ms (x${(t4 / t1).toFixed(2)})`,
  );
}

// Held-out text: the README of every installed dependency, line by line. The rules were not
// tuned on it (one fix after the first measurement: byte dumps taken for phone numbers).
const store = new URL('../../../node_modules/.pnpm/', import.meta.url).pathname;
const readmes = new Set();
for (const entry of readdirSync(store)) {
  const modules = join(store, entry, 'node_modules');
  let names = [];
  try {
    names = readdirSync(modules).flatMap((n) =>
      n.startsWith('@') ? readdirSync(join(modules, n)).map((m) => join(n, m)) : [n],
    );
  } catch {
    continue;
  }
  for (const name of names) {
    try {
      for (const f of readdirSync(join(modules, name))) {
        if (/^readme\.md$/i.test(f)) readmes.add(readFileSync(join(modules, name, f), 'utf8'));
      }
    } catch {
      // not a directory
    }
  }
}
const lines = [...readmes]
  .flatMap((t) => t.split('\n').map((l) => l.trim()))
  .filter((l) => l.length >= 8);
const flagged = {};
let flaggedLines = 0;
for (const line of lines) {
  const kinds = Object.keys(redactString(line).hits);
  if (kinds.length > 0) flaggedLines++;
  for (const k of kinds) flagged[k] = (flagged[k] ?? 0) + 1;
}
out(
  `dependency READMEs: ${readmes.size} files, ${lines.length} lines, ${flaggedLines} flagged ` +
    `(${((flaggedLines / lines.length) * 100).toFixed(2)}%) ${JSON.stringify(flagged)}`,
);
