import type { AnchorRead } from '../anchor-file.js';
import { checkpointShapeProblem, verifyCheckpointSignature } from '../checkpoint.js';
import { verifyPruneSignature } from '../prune-record.js';
import type { SignedCheckpoint } from '../types.js';
import {
  type ExternalCheckpoint,
  payloadOf,
  type RecordAt,
  type VerifyState,
} from './verify-state.js';

/**
 * Register anchor and store-log checkpoints of this origin, so the chain scan can compare each
 * with the record it names when it gets there.
 */
export function loadExternal(
  state: VerifyState,
  anchor: AnchorRead | undefined,
  storeLog: AnchorRead | undefined,
): void {
  const sources: Array<[ExternalCheckpoint['source'], AnchorRead | undefined]> = [
    ['anchor', anchor],
    ['store checkpoint log', storeLog],
  ];
  for (const [source, file] of sources) {
    if (!file) continue;
    // A garbled line cannot hide anything (checkpoints are only ever added, and each is
    // checked on its own); a crash in the middle of an append leaves one. Warn only.
    for (const line of file.malformed) {
      state.log.add(
        source === 'anchor' ? 'ANCHOR_MALFORMED' : 'CHECKPOINT_LOG_MALFORMED',
        `${source} line ${line} is not a well-formed checkpoint`,
      );
    }
    for (const entry of file.entries) {
      if (entry.origin !== state.origin) continue;
      const list = state.external.get(entry.size) ?? [];
      list.push({ entry, source, matched: undefined });
      state.external.set(entry.size, list);
    }
  }
}

/** Origin, trusted key and signature of a checkpoint; false when it must be ignored. */
export function checkCheckpointSignature(
  state: VerifyState,
  c: SignedCheckpoint,
  what: string,
  segment?: number,
  seq?: number,
): boolean {
  if (state.origin !== null && c.origin !== state.origin) {
    state.log.add(
      'CHECKPOINT_ORIGIN_MISMATCH',
      `${what} belongs to store ${c.origin}, not ${state.origin} (copied from another store)`,
      segment,
      seq,
    );
    return false;
  }
  if (state.keys.size === 0) return true;
  const key = state.keys.get(c.keyId);
  if (!key) {
    state.log.add(
      'CHECKPOINT_UNTRUSTED_KEY',
      `${what} is signed by key ${c.keyId}, which is not a trusted key (${[...state.keys.keys()].join(', ')})`,
      segment,
      seq,
    );
    return false;
  }
  if (!verifyCheckpointSignature(c, key)) {
    state.log.add('CHECKPOINT_BAD_SIGNATURE', `${what} has an invalid signature`, segment, seq);
    return false;
  }
  return true;
}

/** A chained `checkpoint` record: well-formed, signed, right after record `size`, same head. */
export function checkInChainCheckpoint(
  state: VerifyState,
  buf: Buffer,
  env: RecordAt,
  segment: number,
): void {
  state.checkpoints += 1;
  const p = payloadOf(buf, env);
  const shape = checkpointShapeProblem(p);
  if (shape !== undefined) {
    state.log.add(
      'CHECKPOINT_MALFORMED',
      `segment ${segment} seq ${env.seq}: ${shape}`,
      segment,
      env.seq,
    );
    return;
  }
  const c = p as unknown as SignedCheckpoint;
  state.inChainSigs.set(c.size, c.sig);
  if (!checkCheckpointSignature(state, c, `checkpoint at seq ${env.seq}`, segment, env.seq)) {
    return;
  }
  if (c.size !== env.seq - 1) {
    state.log.add(
      'CHECKPOINT_MISPLACED',
      `segment ${segment} seq ${env.seq}: checkpoint for size ${c.size} must directly follow the record it signs`,
      segment,
      env.seq,
    );
    return;
  }
  if (state.prevHash === undefined || c.head !== state.prevHash) {
    state.log.add(
      'CHECKPOINT_HEAD_MISMATCH',
      `segment ${segment} seq ${env.seq}: the signed head does not match record ${c.size} (records before it were changed, inserted or removed)`,
      segment,
      c.size,
    );
    return;
  }
  state.goodCheckpointSizes.push(c.size);
  if (state.keys.has(c.keyId)) state.signedThrough = Math.max(state.signedThrough, c.size);
}

/** A `prune` record: well-formed and signed on its own by a trusted key of this store. */
export function notePrune(state: VerifyState, buf: Buffer, env: RecordAt, segment: number): void {
  const p = payloadOf(buf, env);
  const malformed = (why: string) =>
    state.log.add(
      'PRUNE_MALFORMED',
      `segment ${segment} seq ${env.seq}: malformed prune record (${why})`,
      segment,
      env.seq,
    );
  if (
    !p ||
    !Array.isArray(p.segments) ||
    typeof p.firstSeq !== 'number' ||
    typeof p.lastSeq !== 'number' ||
    typeof p.lastHash !== 'string'
  ) {
    malformed('members missing');
    return;
  }
  if (state.keys.size > 0) {
    const key = state.keys.get(String(p.keyId));
    if (!key || !verifyPruneSignature(p, key) || p.origin !== state.origin) {
      state.log.add(
        'PRUNE_BAD_SIGNATURE',
        `prune record at seq ${env.seq} is not signed by a trusted key of this store`,
        segment,
        env.seq,
      );
      return;
    }
  }
  // Signed, yet inconsistent: only a key holder writes that, and it accounts for nothing.
  if (!isContiguousRun(p.segments)) {
    malformed('segments are not consecutive numbers');
    return;
  }
  if (
    !Number.isSafeInteger(p.firstSeq) ||
    p.firstSeq < 1 ||
    p.firstSeq > p.lastSeq ||
    p.lastSeq >= env.seq
  ) {
    malformed('firstSeq..lastSeq is not a range before the prune record');
    return;
  }
  state.pruneHashes.set(env.seq, p.lastHash);
  state.pruned.push({
    seq: env.seq,
    segments: p.segments,
    firstSeq: p.firstSeq,
    lastSeq: p.lastSeq,
    before: String(p.before),
  });
}

/** A non-empty list of segment numbers, ascending by one. */
function isContiguousRun(value: unknown): value is number[] {
  if (!Array.isArray(value) || value.length === 0) return false;
  return value.every(
    (n, i) => Number.isSafeInteger(n) && n >= 1 && (i === 0 || n === value[i - 1] + 1),
  );
}

/**
 * A store that does not start at segment 1 / seq 1 must have been pruned, by a signed prune
 * record whose last seq and hash are exactly where the remaining chain starts.
 */
export function checkPrunedStart(state: VerifyState): void {
  const fp = state.firstPresent;
  if (!fp || fp.segment === 1) return;
  const ok = state.pruned.some(
    (pr) =>
      pr.lastSeq === fp.seq - 1 &&
      pr.segments.includes(fp.segment - 1) &&
      state.pruneHashes.get(pr.seq) === fp.prev,
  );
  if (!ok) {
    state.log.add(
      'SEGMENT_MISSING',
      `the store starts at segment ${fp.segment} seq ${fp.seq}, and no signed prune record accounts for what came before`,
      fp.segment > 1 ? fp.segment - 1 : fp.segment,
      fp.seq,
    );
  }
}

/** Anchor and checkpoint-log entries against the records the scan found at their seq. */
export function checkExternal(state: VerifyState): void {
  const prunedThrough = Math.max(0, ...state.pruned.map((p) => p.lastSeq));
  for (const [size, list] of state.external) {
    for (const e of list) {
      const what = `${e.source} checkpoint at seq ${size}`;
      if (!checkCheckpointSignature(state, e.entry, what)) continue;
      if (size <= prunedThrough) continue;
      if (size > state.headSeq) {
        state.log.add(
          e.source === 'anchor' ? 'ANCHOR_BEYOND_END' : 'CHECKPOINT_BEYOND_END',
          `the ${what} covers more than the store holds (it ends at seq ${state.headSeq}): records were truncated or the store was rolled back`,
          undefined,
          state.headSeq + 1,
        );
      } else if (e.matched !== true) {
        state.log.add(
          e.source === 'anchor' ? 'ANCHOR_HEAD_MISMATCH' : 'CHECKPOINT_HEAD_MISMATCH',
          `the ${what} does not match the store's record ${size} (the store was rewritten or rolled back)`,
          undefined,
          size,
        );
      } else if (state.inChainSigs.get(size) !== e.entry.sig) {
        // The writer anchors a checkpoint only once its chained record is durable, so the
        // record must be there: its absence means the store's end was cut off.
        state.log.add(
          'CHECKPOINT_RECORD_MISSING',
          `the ${what} has no matching checkpoint record at seq ${size + 1} in the store (records removed from the end)`,
          undefined,
          size + 1,
        );
      } else if (state.keys.has(e.entry.keyId)) {
        state.signedThrough = Math.max(state.signedThrough, size);
      }
    }
  }
}

/** Whether the anchor was checked, and why not. */
export function checkAnchorStatus(
  state: VerifyState,
  anchor: AnchorRead | undefined,
  anchorPath: string | undefined,
  unreadable: boolean,
): void {
  if (unreadable) {
    // ANCHOR_UNREADABLE (3) was reported when it was read.
  } else if (anchorPath === undefined) {
    state.log.add(
      'ANCHOR_NOT_CHECKED',
      'no anchor given: truncation or rollback of the whole store cannot be ruled out',
    );
  } else if (!anchor) {
    state.log.add(
      'ANCHOR_MISSING',
      `anchor file ${anchorPath} not found: rollback cannot be ruled out`,
    );
  } else if (![...state.external.values()].some((l) => l.some((e) => e.source === 'anchor'))) {
    state.log.add(
      'ANCHOR_NO_ENTRIES',
      `anchor file ${anchorPath} holds no checkpoint of this store (origin ${state.origin})`,
    );
  } else {
    state.anchorChecked = true;
  }
}

/** Every record up to the last non-checkpoint record must be covered by a trusted checkpoint. */
export function checkCoverage(state: VerifyState): void {
  if (state.checkpoints === 0 && state.external.size === 0) {
    state.log.add(
      'NO_CHECKPOINT',
      'the store holds no signed checkpoint: nothing is covered by a signature',
    );
  } else if (state.keys.size > 0 && state.lastNonCheckpointSeq > state.signedThrough) {
    let first = state.signedThrough + 1;
    while (state.checkpointSeqs.has(first)) first += 1;
    state.log.add(
      'UNSIGNED_TAIL',
      `records from seq ${first} to ${state.lastNonCheckpointSeq} are not covered by a signed checkpoint (writer still running, or crashed; a clean close signs them)`,
      undefined,
      first,
    );
  }
}

/**
 * The store's checkpoint log against the anchor and the chain (docs/store-format.md, "The
 * checkpoint log"). The writer appends a checkpoint's line only once its chained record is
 * durable, and to the anchor only once the log line is durable. So: a checkpoint the anchor
 * holds and the log lacks, or a log that is missing or holds no line of this store while the
 * chain holds two or more signed checkpoint records, means the log was deleted or edited
 * (`CHECKPOINT_LOG_MISSING`, 1). A kill -9 or a failed append can lose single lines, the
 * newest most often: other lines missing are a warning (`CHECKPOINT_LOG_INCOMPLETE`).
 */
export function checkStoreLog(state: VerifyState, storeLog: AnchorRead | undefined): void {
  // An anchor may serve several stores; the store's own log serves only this one.
  const foreign =
    state.origin === null ? [] : (storeLog?.entries ?? []).filter((e) => e.origin !== state.origin);
  for (const entry of foreign.slice(0, 5)) {
    state.log.add(
      'CHECKPOINT_ORIGIN_MISMATCH',
      `checkpoints.jsonl line ${entry.line} is a checkpoint of store ${entry.origin}, not ${state.origin} (copied from another store)`,
    );
  }
  if (foreign.length > 5) {
    state.log.add(
      'CHECKPOINT_ORIGIN_MISMATCH',
      `checkpoints.jsonl holds ${foreign.length - 5} more lines of other stores`,
    );
  }
  const chained = state.goodCheckpointSizes;
  const logged = new Set<number>();
  const anchored: number[] = [];
  for (const [size, list] of state.external) {
    for (const e of list) {
      if (e.source === 'store checkpoint log') logged.add(size);
      else anchored.push(size);
    }
  }
  // The writer appends each checkpoint to the log first and to the anchor only once that
  // append is durable: an anchored checkpoint of this store is always in its log.
  const unlogged = anchored.filter((size) => !logged.has(size)).sort((a, b) => a - b);
  if (unlogged.length > 0) {
    state.log.add(
      'CHECKPOINT_LOG_MISSING',
      `the store's checkpoints.jsonl ${storeLog ? 'lacks' : 'is missing, with'} ${unlogged.length} checkpoint(s) the anchor holds (first: size ${unlogged[0]}); the writer appends every anchored checkpoint to the log first: the log was deleted or edited`,
    );
    return;
  }
  if (logged.size === 0) {
    if (chained.length >= 2) {
      state.log.add(
        'CHECKPOINT_LOG_MISSING',
        `the store's checkpoints.jsonl is ${storeLog ? 'emptied (no line of this store)' : 'missing'}, but the chain holds ${chained.length} signed checkpoint records the writer had appended to it: the log was deleted or emptied`,
      );
    }
    return;
  }
  const missing = chained.slice(0, -1).filter((size) => !logged.has(size));
  if (missing.length > 0) {
    state.log.add(
      'CHECKPOINT_LOG_INCOMPLETE',
      `checkpoints.jsonl lacks ${missing.length} of the chain's signed checkpoints (first: size ${missing[0]}); a crash or a failed append loses single lines`,
    );
  }
}
