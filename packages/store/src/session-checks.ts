import type { KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import type { AnchorEntry, AnchorRead } from './anchor-file.js';
import { verifyCheckpointSignature } from './checkpoint.js';
import { StoreError } from './errors.js';
import { GENESIS_HASH } from './record-format.js';
import { findRecord, type SegmentFile } from './segment-files.js';
import { type ChainPoint, sessionOpenShapeProblem, witnessPath } from './session-records.js';
import { verifyStatementSignature } from './signed-statement.js';
import type { SignedCheckpoint } from './types.js';

/**
 * The session checks of recovery (docs/store-format.md, "Recovery"): whether the previous
 * writer closed cleanly and nothing was appended after its close, and how far its
 * acknowledgements reach (anchor, checkpoint log, writer witness).
 */

/** A record of the newest segment, as far as recovery needs it. */
export interface Scanned {
  seq: number;
  hash: string;
  type: string;
  offset: number;
  /** Offset just past the line's newline. */
  end: number;
  /** Payload text of checkpoint, store.close and session.open records. */
  payload?: string;
}

/**
 * The closed-store rule: after a `store.close` and its checkpoint, the next record must be a
 * `session.open` signed by this writer's key that names that checkpoint. Anything else was
 * appended by someone else. Returns whether the chain now ends with a clean close.
 */
export function checkClosed(
  dir: string,
  anchored: number,
  publicKey: KeyObject,
  origin: string,
  kept: Scanned[],
  anchor: AnchorRead | undefined,
  segments: SegmentFile[],
  head: ChainPoint,
): 'closed' | 'crashed' {
  const refuse = (closeSeq: number, found: string) =>
    new StoreError(
      'STORE_APPENDED_AFTER_CLOSE',
      `refusing to open audit store ${dir}: it was closed cleanly at seq ${closeSeq}, but ${found} follows the close; records were appended by something other than this writer. Nothing was signed or moved. Run agent-audit verify, keep the store as evidence, and start a new store (another directory and anchor file).`,
      { dir },
    );
  const validOpen = (payload: string | undefined, after: ChainPoint): boolean => {
    if (payload === undefined) return false;
    let p: Record<string, unknown>;
    try {
      p = JSON.parse(payload) as Record<string, unknown>;
    } catch {
      return false;
    }
    if (sessionOpenShapeProblem(p) !== undefined || p.origin !== origin) return false;
    const a = p.after as ChainPoint;
    return a.seq === after.seq && a.hash === after.hash && verifyStatementSignature(p, publicKey);
  };
  // The last close in the newest segment (earlier ones were checked by the opens after them).
  let c = -1;
  for (let i = kept.length - 1; i >= 0; i--) {
    if (kept[i]!.type === 'store.close') {
      c = i;
      break;
    }
  }
  if (c >= 0) {
    const close = kept[c]!;
    const cp = kept[c + 1];
    const next = kept[c + 2];
    if (cp && cp.type !== 'checkpoint') {
      // A crash (power cut) during close can lose the checkpoint after the store.close: the
      // next writer then opens right after the close. Anything else is not this writer's.
      if (cp.seq > anchored && !(cp.type === 'session.open' && validOpen(cp.payload, close))) {
        throw refuse(close.seq, `record ${cp.seq} (${cp.type}) instead of its checkpoint`);
      }
    } else if (cp && next && next.seq > anchored) {
      // A session.open the anchor already confirms was accepted by an earlier open (its key
      // may since have been replaced).
      if (!(next.type === 'session.open' && validOpen(next.payload, cp))) {
        throw refuse(close.seq, `record ${next.seq} (${next.type})`);
      }
    }
  }
  // The newest anchored checkpoint may name a close in an earlier segment (the newest segment
  // was then added after the close).
  let newest = 0;
  for (const e of anchor?.entries ?? []) if (e.origin === origin) newest = Math.max(newest, e.size);
  const firstKept = kept[0]?.seq ?? head.seq + 1;
  if (newest > 0 && newest < firstKept && head.seq > newest + 1) {
    const close = findRecord(segments, newest);
    if (close?.type === 'store.close') {
      const next = findRecord(segments, newest + 2);
      const cp = findRecord(segments, newest + 1);
      if (
        !next ||
        !cp ||
        !(
          next.type === 'session.open' &&
          validOpen(next.payload, { seq: newest + 1, hash: cp.hash })
        )
      ) {
        throw refuse(newest, `record ${newest + 2} (${next?.type ?? 'missing'})`);
      }
    }
  }
  const n = kept.length;
  if (n >= 2 && kept[n - 2]!.type === 'store.close' && kept[n - 1]!.type === 'checkpoint') {
    return 'closed';
  }
  return 'crashed';
}

export function validCheckpoint(r: Scanned, publicKey: KeyObject, origin: string): boolean {
  if (r.payload === undefined) return false;
  try {
    const c = JSON.parse(r.payload) as SignedCheckpoint;
    return c.origin === origin && verifyCheckpointSignature(c, publicKey);
  } catch {
    return false;
  }
}

/**
 * The highest record the previous writer is known to have acknowledged: the newest checkpoint
 * of this origin in the anchor or the checkpoint log whose head matches the chain, or the
 * writer witness when its hash matches the chain, whichever is higher.
 */
export function attestedPoint(
  anchorPath: string,
  origin: string,
  logged: AnchorEntry[],
  kept: Scanned[],
  segments: SegmentFile[],
  head: ChainPoint,
): ChainPoint {
  const hashAt = (seq: number): string | undefined => {
    if (seq === head.seq) return head.hash;
    const inKept = kept.find((r) => r.seq === seq);
    if (inKept) return inKept.hash;
    if (seq > head.seq) return undefined;
    return findRecord(segments, seq)?.hash;
  };
  let best: ChainPoint = { seq: 0, hash: GENESIS_HASH };
  const sorted = [...logged].sort((a, b) => b.size - a.size);
  for (const e of sorted.slice(0, 4)) {
    if (e.size <= head.seq && hashAt(e.size) === e.head) {
      best = { seq: e.size, hash: e.head };
      break;
    }
  }
  const witness = readWitness(witnessPath(anchorPath, origin));
  if (
    witness &&
    witness.origin === origin &&
    witness.seq > best.seq &&
    witness.seq <= head.seq &&
    hashAt(witness.seq) === witness.hash
  ) {
    best = { seq: witness.seq, hash: witness.hash };
  }
  return best;
}

function readWitness(file: string): { origin: string; seq: number; hash: string } | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8');
    const line = text.slice(0, text.indexOf('\n'));
    const w = JSON.parse(line) as { origin?: unknown; seq?: unknown; hash?: unknown };
    if (typeof w.origin !== 'string' || typeof w.hash !== 'string') return undefined;
    if (typeof w.seq !== 'number' || !Number.isSafeInteger(w.seq)) return undefined;
    return { origin: w.origin, seq: w.seq, hash: w.hash };
  } catch {
    return undefined;
  }
}
