import * as fs from 'node:fs';
import * as path from 'node:path';
import { readWitness, type Witness } from '../session-checks.js';
import type { VerifyState } from './verify-state.js';

/**
 * The writer witnesses beside the anchor (`<anchor file>.<origin>.head`, docs/store-format.md
 * "Session records and the writer witness"), by origin. Read before the segments are listed,
 * as the checkpoint files are: a live writer updates its witness only after the records it
 * names are durable, so a witness read first never names a record beyond the segments read
 * afterwards.
 */
export function readWitnesses(anchorPath: string): Map<string, Witness & { file: string }> {
  const found = new Map<string, Witness & { file: string }>();
  const prefix = `${path.basename(anchorPath)}.`;
  let names: string[];
  try {
    names = fs.readdirSync(path.dirname(anchorPath));
  } catch {
    return found;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.head')) continue;
    const origin = name.slice(prefix.length, -'.head'.length);
    const file = path.join(path.dirname(anchorPath), name);
    const w = stableWitness(file);
    // A missing or garbled witness is what a power cut can leave: it bounds nothing.
    if (w && w.origin === origin) found.set(origin, { ...w, file });
  }
  return found;
}

/**
 * A live writer overwrites its witness in place: read it until two reads agree, so that a
 * read racing that overwrite is never taken for a witness (at most a few tries).
 */
function stableWitness(file: string): Witness | undefined {
  let last = readWitness(file);
  for (let i = 0; i < 5; i++) {
    const again = readWitness(file);
    if (
      again === undefined ||
      (last !== undefined && again.seq === last.seq && again.hash === last.hash)
    ) {
      return again;
    }
    last = again;
  }
  return undefined;
}

/**
 * The witness of the store's origin against the chain. It is written only after the fdatasync
 * that made its record durable, so neither a crash nor a power cut leaves it beyond the
 * store's end or naming another record there (an older or missing one is what a power cut
 * leaves, and is fine): either means acknowledged records were cut off or rewritten.
 */
export function checkWitness(state: VerifyState): void {
  const w = state.witness;
  if (!w) return;
  const prunedThrough = Math.max(0, ...state.pruned.map((p) => p.lastSeq));
  if (w.seq <= prunedThrough) return;
  if (w.seq > state.headSeq) {
    state.log.add(
      'WITNESS_BEYOND_END',
      `the writer witness ${w.file} says the writer acknowledged record ${w.seq}, but the store ends at seq ${state.headSeq}: acknowledged records were cut off`,
      undefined,
      state.headSeq + 1,
    );
  } else if (w.found !== undefined && w.found !== w.hash) {
    state.log.add(
      'WITNESS_HEAD_MISMATCH',
      `record ${w.seq} does not match the writer witness ${w.file} (the record the writer acknowledged there had hash ${w.hash}): the store was rewritten`,
      undefined,
      w.seq,
    );
  }
}
