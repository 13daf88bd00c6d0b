import { createHash } from 'node:crypto';
import { canonicalJson } from '../src/canonical-json.js';

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

/** Deterministic PRNG (mulberry32) so that a failing property case can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
