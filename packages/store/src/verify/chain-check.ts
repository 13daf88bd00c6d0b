import { createHash, hash as oneShotHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import { computeLineHash, type Envelope, parseEnvelope, RECORD_TYPES } from '../record-format.js';
import { canonicalProblem } from './canonical-check.js';
import type { VerifyProblemCode } from './problem-codes.js';
import { noteRetentionPolicy } from './retention-check.js';
import type { SourceSegment } from './segment-source.js';
import { checkAfterClose, noteLoss, noteSessionOpen, noteStoreClose } from './statement-checks.js';
import { checkHeader, checkSeal, noteRecovery, sealOf } from './structure-checks.js';
import { checkInChainCheckpoint, notePrune } from './trust-checks.js';
import type { VerifyState } from './verify-state.js';

/** `new Date().toISOString()` for years 0–9999. */
const ISO_TIME_LENGTH = 24;
/** Line endings of ordinary records, starting with the quote that closes `time`. */
const FAST_TAILS = ['span.end', 'span.start', 'event'].map((type) =>
  Buffer.from(`","type":"${type}"}`),
);

/** How a segment's scan ended: `restart-slow` when a skimmed sealed segment's digest failed. */
export type SegmentOutcome = 'done' | 'restart-slow';

/**
 * The record-by-record checks of the chain: envelope, hash over the exact bytes, seq, prev,
 * segment headers and seals, and the hand-off of special records to the trust checks.
 *
 * Sealed segment fast path (`fast`): the SHA-256 of every byte before the seal is computed in
 * bulk as the segment streams by, and ordinary span/event lines are only skimmed (see
 * `fastLine`). If that digest equals the seal's, those bytes are exactly what the writer
 * wrote, which is as strong as hashing each record: the seal's own hash is linked into the
 * chain that the next segment and finally a signed checkpoint vouch for. If it does not, the
 * scan stops and the caller verifies again record by record. The header, the seal and every
 * special record always take the full path.
 */
export class ChainScan {
  readonly #state: VerifyState;
  readonly #fast: boolean;
  #fastPending = false;
  #fastTimeSet = false;
  readonly #fastTime = Buffer.alloc(ISO_TIME_LENGTH);
  readonly #fastHash = Buffer.alloc(64);

  constructor(state: VerifyState, fast: boolean) {
    this.#state = state;
    this.#fast = fast;
  }

  segment(seg: SourceSegment, isLast: boolean, onChunk: (bytes: number) => void): SegmentOutcome {
    const state = this.#state;
    const log = state.log;
    let index = 0;
    let sealed = false;
    let sealReported = false;
    let restart = false;
    const segment = seg.segment;
    const seal = sealOf(state.source, seg);
    const skim = seal !== undefined && this.#fast;
    // The digest a seal is checked against is computed in bulk from the chunks as they are
    // read (a per-line update cost ~14% of verify), up to where the seal line starts, unless
    // the source already hashed exactly those bytes on their way in.
    const known = seal ? state.source.digestBefore?.(seg, seal.offset) : undefined;
    const bulk = seal && known === undefined ? createHash('sha256') : undefined;
    let actualDigest: string | undefined;
    const scan = state.source.scan(
      seg,
      (buf, start, end, offset) => {
        state.records += 1;
        const first = index === 0;
        index += 1;
        if (seal) {
          if (offset < seal.offset) {
            if (skim && !first && this.#fastLine(buf, start, end, segment)) return true;
          } else if (offset === seal.offset && actualDigest === undefined) {
            actualDigest = known ?? bulk!.digest('hex');
            if (skim && actualDigest !== seal.sha256) {
              restart = true;
              return false;
            }
          }
        }
        this.#syncFast();
        if (sealed && !sealReported) {
          sealReported = true;
          log.add(
            'RECORD_AFTER_SEAL',
            `segment ${segment} has records after its seal record`,
            segment,
          );
        }
        const env = parseEnvelope(buf, start, end, true);
        const expected = state.expectedSeq;
        if (typeof env === 'string') {
          this.#notARecord(buf.toString('utf8', start, end), env, segment, offset);
          return true;
        }
        const computed = computeLineHash(buf, start, end);
        // The hash the next record must link to (see "The prev rule" in the format doc).
        let linked = computed;
        if (computed !== env.hash) {
          // Name the record by its position in the chain: a flipped digit in `seq` itself
          // must not send the reader to another record.
          const at = expected ?? env.seq;
          const code = classifyMismatch(buf.toString('utf8', start, end), env.hash);
          // Re-serialised, content intact: the chain goes on from the hash it claims.
          if (code === 'RECORD_NOT_CANONICAL') linked = env.hash;
          log.add(
            code,
            code === 'RECORD_NOT_CANONICAL'
              ? `segment ${segment} seq ${at}: record is not in canonical form (re-serialised)`
              : `segment ${segment} seq ${at}: record bytes do not match its hash`,
            segment,
            at,
          );
        } else {
          const bad = canonicalProblem(buf, start, end);
          if (bad) {
            log.add(
              bad.code,
              bad.code === 'RECORD_NOT_CANONICAL'
                ? `segment ${segment} seq ${expected ?? env.seq}: record bytes are not the canonical JSON of its content, although its hash matches them (${bad.why})`
                : `segment ${segment} seq ${expected ?? env.seq}: not a well-formed record (${bad.why})`,
              segment,
              expected ?? env.seq,
            );
          }
        }
        state.firstPresent ??= { seq: env.seq, prev: env.prev, segment };
        this.#checkLink(env, linked, segment);
        this.#checkTime(env, segment);
        if (first && env.type !== 'segment.open') {
          log.add(
            'SEGMENT_HEADER_MISSING',
            `segment ${segment} does not start with a segment.open record`,
            segment,
            expected ?? env.seq,
          );
        }
        checkAfterClose(state, env.type, buf, env, segment);
        switch (env.type) {
          case 'segment.open':
            checkHeader(state, buf, env, first, segment);
            break;
          case 'segment.seal':
            sealed = true;
            checkSeal(
              state,
              buf,
              env,
              segment,
              offset,
              index - 1,
              offset === seal?.offset ? actualDigest : undefined,
            );
            break;
          case 'checkpoint':
            checkInChainCheckpoint(state, buf, env, segment);
            break;
          case 'recovery':
            noteRecovery(state, buf, env, segment);
            break;
          case 'prune':
            notePrune(state, buf, env, segment);
            break;
          case 'store.close':
            noteStoreClose(state, buf, env, segment);
            break;
          case 'session.open':
            noteSessionOpen(state, buf, env, segment);
            break;
          case 'loss':
            noteLoss(state, buf, env, segment);
            break;
          case 'retention.policy':
            noteRetentionPolicy(state, buf, env, segment);
            break;
          default:
            if (!RECORD_TYPES.has(env.type)) {
              log.add(
                'RECORD_TYPE_UNKNOWN',
                `segment ${segment} seq ${env.seq}: record type ${JSON.stringify(env.type)} is not known to this verifier (a newer writer?); its hash and link were checked, its meaning was not`,
                segment,
                env.seq,
              );
            }
            break;
        }
        if (env.type !== 'checkpoint') state.lastNonCheckpointSeq = env.seq;
        else state.checkpointSeqs.add(env.seq);
        const ext = state.external.get(env.seq);
        if (ext) for (const e of ext) e.matched = e.entry.head === linked;
        if (state.witness?.seq === env.seq) state.witness.found = linked;
        state.prevHash = linked;
        const chainSeq = linked !== env.hash && expected !== undefined ? expected : env.seq;
        state.expectedSeq = chainSeq + 1;
        state.headSeq = chainSeq;
        state.headHash = linked;
        return true;
      },
      {
        // Read exactly the size listed: a live writer may append (even a seal) meanwhile,
        // and the seal check above was made against this size.
        to: seg.size,
        onChunk: (bytes, chunk, fileOffset) => {
          if (bulk && fileOffset < seal!.offset) {
            const upTo = Math.min(bytes, seal!.offset - fileOffset);
            bulk.update(upTo === chunk.length ? chunk : chunk.subarray(0, upTo));
          }
          onChunk(bytes);
        },
      },
    );
    this.#syncFast();
    // Skimmed lines are only trusted once the digest has been compared at the seal line.
    if (restart || (skim && actualDigest === undefined)) return 'restart-slow';
    state.bytes += scan.completeBytes + scan.tornBytes;
    if (scan.tornBytes > 0) {
      if (isLast) {
        log.add(
          'TORN_TAIL',
          `segment ${segment} ends with ${scan.tornBytes} bytes of an incomplete record (a crash mid-write); opening the store for writing sets them aside with a recovery record`,
          segment,
        );
      } else {
        log.add(
          'SEGMENT_TRUNCATED',
          `segment ${segment} ends in the middle of a record but is not the last segment`,
          segment,
        );
      }
    }
    if (!sealed && !isLast) {
      log.add(
        'SEGMENT_NOT_SEALED',
        `segment ${segment} has no seal record but a later segment exists (truncated or replaced)`,
        segment,
      );
    }
    return 'done';
  }

  /** A line that is not a record envelope: re-serialised JSON of a record, or garbage. */
  #notARecord(line: string, reason: string, segment: number, offset: number): void {
    const state = this.#state;
    const expected = state.expectedSeq;
    // Valid JSON of a record but not its canonical bytes (re-serialised: other member order,
    // spaces, escapes) is reported as such; anything else is malformed.
    const parsed = parseRecordJson(line);
    state.log.add(
      parsed ? 'RECORD_NOT_CANONICAL' : 'RECORD_MALFORMED',
      parsed
        ? `segment ${segment} seq ${expected ?? parsed.seq}: record is not in canonical form (re-serialised)`
        : `segment ${segment} byte ${offset}: not a well-formed record (${reason})`,
      segment,
      expected ?? parsed?.seq,
    );
    // Link the next record to the hash this one claims, so one re-serialised record is
    // reported once; a malformed one breaks the chain.
    state.prevHash = parsed?.hash;
    if (expected !== undefined) state.expectedSeq = expected + 1;
  }

  /** seq = expected, prev = hash of the record before. */
  #checkLink(env: Envelope, linked: string, segment: number): void {
    const state = this.#state;
    const expected = state.expectedSeq;
    if (expected === undefined) return; // first record of a pruned store: see checkPrunedStart
    if (env.seq !== expected && linked === env.hash) {
      // Named by the seq expected at this position: where the chain went wrong.
      state.log.add(
        env.seq > expected ? 'SEQUENCE_GAP' : 'SEQUENCE_REGRESSION',
        env.seq > expected
          ? `segment ${segment}: seq ${expected} expected, found ${env.seq} (records missing or moved)`
          : `segment ${segment}: seq ${expected} expected, found ${env.seq} (records reordered or duplicated)`,
        segment,
        expected,
      );
    }
    if (state.prevHash === undefined) {
      state.log.add(
        'CHAIN_BROKEN',
        `segment ${segment} seq ${env.seq}: follows a damaged record, the chain cannot be linked`,
        segment,
        env.seq,
      );
    } else if (env.prev !== state.prevHash) {
      state.log.add(
        'CHAIN_BROKEN',
        `segment ${segment} seq ${env.seq}: prev does not match the hash of the record before it`,
        segment,
        env.seq,
      );
    }
  }

  #checkTime(env: Envelope, segment: number): void {
    const state = this.#state;
    if (env.time < state.lastTime) this.#timeRegressed(env.seq, env.time, segment);
    state.lastTime = env.time;
  }

  #timeRegressed(seq: number, time: string, segment: number): void {
    const state = this.#state;
    state.timeRegressions += 1;
    if (state.timeRegressions <= 5) {
      state.log.add(
        'TIME_REGRESSION',
        `segment ${segment} seq ${seq}: time ${time} is before the previous record's ${state.lastTime} (clock jumped back; order comes from seq)`,
        segment,
        seq,
      );
    }
  }

  /**
   * An ordinary record (span.start, span.end, event) inside a digest-verified sealed prefix:
   * its bytes are the writer's, so seq follows from position and the stored hash is right.
   * Only what verify reports from such records is extracted (time order, anchor matches).
   * Returns false for anything else, which then takes the full path.
   */
  #fastLine(buf: Buffer, start: number, end: number, segment: number): boolean {
    const state = this.#state;
    const seq = state.expectedSeq;
    if (seq === undefined || end - start < 200 || buf[end - 2] !== 0x22) return false;
    let tailLength = 0;
    for (const tail of FAST_TAILS) {
      if (buf.compare(tail, 0, tail.length, end - tail.length, end) === 0) {
        tailLength = tail.length;
        break;
      }
    }
    if (tailLength === 0) return false;
    const timeEnd = end - tailLength;
    const timeStart = timeEnd - ISO_TIME_LENGTH;
    if (buf[timeStart - 1] !== 0x22) return false;
    const regressed = this.#fastTimeSet
      ? buf.compare(this.#fastTime, 0, ISO_TIME_LENGTH, timeStart, timeEnd) < 0
      : buf.toString('latin1', timeStart, timeEnd) < state.lastTime;
    if (regressed) {
      if (this.#fastTimeSet) state.lastTime = this.#fastTime.toString('latin1');
      this.#timeRegressed(seq, buf.toString('latin1', timeStart, timeEnd), segment);
    }
    // Copies into reused buffers instead of strings: this runs for almost every record.
    buf.copy(this.#fastTime, 0, timeStart, timeEnd);
    buf.copy(this.#fastHash, 0, start + 9, start + 73);
    this.#fastTimeSet = true;
    this.#fastPending = true;
    const ext = state.external.get(seq);
    if (ext) {
      const hash = this.#fastHash.toString('latin1');
      for (const e of ext) e.matched = e.entry.head === hash;
    }
    if (state.witness?.seq === seq) state.witness.found = this.#fastHash.toString('latin1');
    state.lastNonCheckpointSeq = seq;
    state.expectedSeq = seq + 1;
    state.headSeq = seq;
    return true;
  }

  /** Bring the string state up to date after skimmed lines, before a full check. */
  #syncFast(): void {
    if (this.#fastPending) {
      this.#fastPending = false;
      const hash = this.#fastHash.toString('latin1');
      this.#state.prevHash = hash;
      this.#state.headHash = hash;
      this.#state.lastTime = this.#fastTime.toString('latin1');
    }
    // The next full-path line sets lastTime; the next skimmed line compares against that.
    this.#fastTimeSet = false;
  }
}

/** A line whose bytes fail their hash: re-serialised (content intact) or changed. */
function classifyMismatch(line: string, stored: string): VerifyProblemCode {
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    const { hash: _ignored, ...rest } = value;
    if (oneShotHash('sha256', canonicalJson(rest), 'hex') === stored) return 'RECORD_NOT_CANONICAL';
  } catch {
    // Not JSON at all: plain mismatch.
  }
  return 'RECORD_HASH_MISMATCH';
}

function parseRecordJson(line: string): { hash: string; seq: number } | undefined {
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    if (typeof value.hash === 'string' && typeof value.seq === 'number' && 'payload' in value) {
      return { hash: value.hash, seq: value.seq };
    }
  } catch {
    // not JSON
  }
  return undefined;
}
