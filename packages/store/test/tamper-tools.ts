import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { canonicalJson } from '../src/canonical-json.js';
import { AuditStore } from '../src/index.js';
import { encodeRecord } from '../src/record-format.js';
import { readLines, span, type TempStore } from './helpers.js';

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

/**
 * The store-identity attack: store A (at `t.dir`, one record) is replaced by a store B that
 * shares A's trust directory (B made at `<dir>-other`, copied over A). Returns both origins and
 * B's own directory.
 */
export async function swapInOtherStore(
  t: TempStore,
): Promise<{ other: string; originA: string; originB: string }> {
  const other = `${t.dir}-other`;
  const a = t.open();
  await a.append(span('a', 1));
  await a.close();
  const b = AuditStore.open({ dir: other, trustDir: t.trustDir });
  await b.append(span('b', 1));
  await b.close();
  fs.rmSync(t.dir, { recursive: true, force: true });
  fs.cpSync(other, t.dir, { recursive: true });
  return { other, originA: a.origin, originB: b.origin };
}
