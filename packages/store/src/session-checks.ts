import type { KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import type { AnchorEntry, AnchorRead } from './anchor-file.js';
import { verifyCheckpointSignature } from './checkpoint.js';
import { StoreError } from './errors.js';
import { GENESIS_HASH, parseEnvelope } from './record-format.js';
import { findRecord, type SegmentFile, scanLines } from './segment-files.js';
import {
  type ChainPoint,
  sessionOpenShapeProblem,
  storeCloseShapeProblem,
  witnessPath,
} from './session-records.js';
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

/** The writer witness's content, as far as recovery and verify use it. */
export interface Witness {
  origin: string;
  seq: number;
  hash: string;
}

/**
 * The writer witness of `origin` beside `anchorPath`, when it is there and well-formed. A
 * missing, empty or garbled witness is what a power cut can leave (it is never fsynced): it
 * only means less is known to have been acknowledged.
 */
export function readWitness(file: string): Witness | undefined {
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

/**
 * The end (byte offset in the newest segment) of the record the writer witness names: every
 * cut must stay behind it. The witness is written only after the fdatasync that made its
 * record durable completed, so neither a crash nor a power cut leaves it ahead of the store's
 * data or naming a different record there: either is tampering, and the open is refused.
 * A missing or older witness is what a power cut can leave, and bounds nothing new.
 * `end` is 0 when the witness bounds nothing in the newest segment; `refusal` (thrown by the
 * caller after the anchor check, whose codes come first) when it contradicts the store.
 */
export function witnessEnd(
  dir: string,
  anchorPath: string,
  origin: string,
  records: Scanned[],
  segments: SegmentFile[],
  damage: { intactSeq: number | undefined; completeBytes: number } | undefined,
): { end: number; refusal?: StoreError } {
  const file = witnessPath(anchorPath, origin);
  const w = readWitness(file);
  if (!w || w.origin !== origin) return { end: 0 };
  const first = records[0]?.seq;
  let found: { hash: string; end: number } | undefined;
  const inLast = records.find((r) => r.seq === w.seq);
  if (inLast) found = inLast;
  else if (first === undefined || w.seq < first) {
    // Before the newest segment's records: it cannot be cut, but it must be the record
    // there. A record below the store's end that is no longer present (a pruned segment)
    // bounds nothing; a missing segment is verify's to report.
    const at = findRecord(segments, w.seq);
    if (at) found = { hash: at.hash, end: 0 };
    else if (first !== undefined || w.seq <= lastSeqBefore(segments)) return { end: 0 };
  } else if (damage && (damage.intactSeq === undefined || w.seq > damage.intactSeq)) {
    // The record it names lies in or after a damaged line: nothing of the segment may go.
    return { end: damage.completeBytes };
  }
  const fix = `Records the previous writer acknowledged were removed or rewritten. Nothing was moved or signed: keep the store and the witness as evidence, restore the store from a copy, and run agent-audit verify.`;
  if (!found) {
    return {
      end: 0,
      refusal: new StoreError(
        'STORE_BEHIND_WITNESS',
        `refusing to open audit store ${dir}: the writer witness ${file} says the previous writer acknowledged record ${w.seq}, but the store ends before it. ${fix}`,
        { dir },
      ),
    };
  }
  if (found.hash !== w.hash) {
    return {
      end: 0,
      refusal: new StoreError(
        'STORE_WITNESS_MISMATCH',
        `refusing to open audit store ${dir}: record ${w.seq} does not match the writer witness ${file} (the record the previous writer acknowledged there had hash ${w.hash}). ${fix}`,
        { dir },
      ),
    };
  }
  return { end: found.end };
}

/** Highest seq in the segments before the newest one (0 when there are none). */
function lastSeqBefore(segments: SegmentFile[]): number {
  for (let i = segments.length - 2; i >= 0; i--) {
    const seg = segments[i]!;
    let seq = 0;
    scanLines(seg.path, (buf, start, end) => {
      const env = parseEnvelope(buf, start, end);
      if (typeof env !== 'string') seq = env.seq;
    });
    if (seq > 0) return seq;
  }
  return 0;
}

/**
 * Whether a `store.close` ending the newest segment without its checkpoint is one a power
 * cut during this writer's own close can leave: signed by this writer's key, of this origin,
 * naming the record right before it. Only such a close may be set aside (it never completed);
 * any other is tampering.
 */
export function unconfirmedOwnClose(
  close: Scanned,
  before: ChainPoint,
  publicKey: KeyObject,
  origin: string,
): boolean {
  if (close.payload === undefined) return false;
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(close.payload) as Record<string, unknown>;
  } catch {
    return false;
  }
  return (
    storeCloseShapeProblem(p) === undefined &&
    p.origin === origin &&
    p.lastSeq === before.seq &&
    p.lastHash === before.hash &&
    close.seq === before.seq + 1 &&
    verifyStatementSignature(p, publicKey)
  );
}
