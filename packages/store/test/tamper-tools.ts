import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { canonicalJson } from '../src/canonical-json.js';
import { encodeRecord } from '../src/record-format.js';
import { readLines } from './helpers.js';

type Rec = Record<string, unknown> & { hash: string; prev: string; seq: number };

/** What an attacker without the key can do: recompute every hash so the chain links again. */
export function rechain(lines: string[], options: { renumber?: boolean } = {}): string[] {
  const out: string[] = [];
  let prev: string | undefined;
  let seq: number | undefined;
  for (const line of lines) {
    const record = JSON.parse(line) as Rec;
    if (prev !== undefined) record.prev = prev;
    if (options.renumber && seq !== undefined) record.seq = seq + 1;
    const { hash: _old, ...rest } = record;
    record.hash = createHash('sha256').update(canonicalJson(rest)).digest('hex');
    prev = record.hash;
    seq = record.seq;
    out.push(canonicalJson(record));
  }
  return out;
}

/**
 * What an attacker without the key can also do: append `n` correctly chained (unsigned) records
 * after the last line of `file`. Returns their sequence numbers.
 */
export function appendChained(
  file: string,
  n: number,
  type: 'span.end' | 'session.open' = 'span.end',
): number[] {
  fs.chmodSync(file, 0o644);
  let prev = JSON.parse(readLines(file).at(-1)!) as { seq: number; hash: string };
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = encodeRecord(
      prev.hash,
      prev.seq + 1,
      new Date().toISOString(),
      type,
      '{"run":"forged"}',
      JSON.stringify({ forged: i }),
    );
    fs.appendFileSync(file, r.line);
    seqs.push(r.seq);
    prev = r;
  }
  return seqs;
}
