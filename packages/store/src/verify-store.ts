import { createHash, type KeyObject, hash as oneShotHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type AnchorEntry, readAnchorFile } from './anchor-file.js';
import { canonicalJson } from './canonical-json.js';
import { checkpointShapeProblem, verifyCheckpointSignature } from './checkpoint.js';
import type { StoreError } from './errors.js';
import { verifyPruneSignature } from './prune-record.js';
import { computeLineHash, FORMAT_VERSION, GENESIS_HASH, parseEnvelope } from './record-format.js';
import { listSegments, type SegmentFile, scanLines } from './segment-files.js';
import {
  ANCHOR_FILE,
  DEFAULT_STORE_DIR,
  DEFAULT_TRUST_DIR,
  RECOVERED_DIR,
  STORE_CHECKPOINTS_FILE,
} from './store-paths.js';
import { loadTrustedKeys } from './trusted-keys.js';
import type {
  SignedCheckpoint,
  VerifyOptions,
  VerifyProblem,
  VerifyProgress,
  VerifyPrune,
  VerifyRecovery,
  VerifyReport,
} from './types.js';

const MAX_LISTED = 200;
/** `new Date().toISOString()` for years 0–9999. */
const ISO_TIME_LENGTH = 24;
/** Line endings of ordinary records, starting with the quote that closes `time`. */
const FAST_TAILS = ['span.end', 'span.start', 'event'].map((type) =>
  Buffer.from(`","type":"${type}"}`),
);

interface ExternalCheckpoint {
  entry: AnchorEntry;
  source: 'anchor' | 'store checkpoint log';
  matched: boolean | undefined;
}

/**
 * Verify a store: every record's hash over its exact bytes, the chain, sequence continuity,
 * segment headers and seals, checkpoint signatures against keys pinned outside the store, and
 * the anchor. Streams the segments in large chunks (constant memory).
 *
 * Exit codes: 0 everything verified and covered by a trusted checkpoint; 1 tampering found;
 * 2 cannot fully verify (unsigned tail, no trusted key, no anchor, unrecovered torn tail);
 * 3 usage or I/O error. Codes are listed in docs/store-format.md.
 */
export async function verifyStore(options: VerifyOptions = {}): Promise<VerifyReport> {
  const dir = path.resolve(options.dir ?? DEFAULT_STORE_DIR);
  const trustDir = path.resolve(options.trustDir ?? DEFAULT_TRUST_DIR);
  if (options.full) return (await verifyOnce(dir, trustDir, options, false)) as VerifyReport;
  const first = await verifyOnce(dir, trustDir, options, true);
  // A sealed segment whose digest did not match was read on the fast path; verify again
  // record by record so that the report names the damaged record (tampering is the rare case).
  if (first !== RESTART_SLOW) return first;
  return (await verifyOnce(dir, trustDir, options, false)) as VerifyReport;
}

const RESTART_SLOW = Symbol('restart-slow');

async function verifyOnce(
  dir: string,
  trustDir: string,
  options: VerifyOptions,
  fast: boolean,
): Promise<VerifyReport | typeof RESTART_SLOW> {
  const v = new Verifier(dir);
  v.fast = fast;
  try {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      v.add('io', 'STORE_NOT_FOUND', `no audit store at ${dir}`);
      return v.report();
    }
    let trusted: ReturnType<typeof loadTrustedKeys>;
    try {
      trusted = loadTrustedKeys(dir, options.publicKey, trustDir);
    } catch (error) {
      v.add('io', (error as StoreError).code ?? 'KEY_INVALID', (error as Error).message);
      return v.report();
    }
    for (const why of trusted.refused) v.add('warning', 'KEY_INSIDE_STORE_IGNORED', why);
    v.keys = trusted.keys;
    const anchorPath =
      options.anchorPath === false
        ? undefined
        : path.resolve(options.anchorPath ?? path.join(trustDir, ANCHOR_FILE));
    await v.run(anchorPath, options.onProgress);
  } catch (error) {
    if (error === RESTART_SLOW) return RESTART_SLOW;
    v.add('io', 'IO_ERROR', `reading ${dir} failed: ${(error as Error).message}`);
  }
  return v.report();
}

class Verifier {
  readonly dir: string;
  keys = new Map<string, KeyObject>();
  problems: VerifyProblem[] = [];
  warnings: VerifyProblem[] = [];
  omitted = 0;
  worst = 0;
  origin: string | null = null;
  records = 0;
  bytes = 0;
  segments = 0;
  checkpoints = 0;
  signedThrough = 0;
  headSeq = 0;
  headHash = GENESIS_HASH;
  recoveries: VerifyRecovery[] = [];
  pruned: VerifyPrune[] = [];
  anchorChecked = false;
  unverifiedSignatures = 0;
  // chain state
  expectedSeq: number | undefined;
  prevHash: string | undefined;
  lastTime = '';
  timeRegressions = 0;
  lastNonCheckpointSeq = 0;
  firstPresent: { seq: number; prev: string; segment: number } | undefined;
  external = new Map<number, ExternalCheckpoint[]>();

  constructor(dir: string) {
    this.dir = dir;
  }

  add(
    kind: VerifyProblem['kind'],
    code: string,
    message: string,
    segment?: number,
    seq?: number,
  ): void {
    const problem: VerifyProblem = { code, kind, message };
    if (segment !== undefined) problem.segment = segment;
    if (seq !== undefined) problem.seq = seq;
    const list = kind === 'warning' ? this.warnings : this.problems;
    if (list.length >= MAX_LISTED) {
      this.omitted += 1;
    } else {
      list.push(problem);
    }
    const rank = kind === 'tampering' ? 3 : kind === 'io' ? 2 : kind === 'unverifiable' ? 1 : 0;
    // Exit code precedence: tampering (1) over I/O (3) over unverifiable (2).
    this.worst = Math.max(this.worst, rank);
  }

  report(): VerifyReport {
    const exitCode = this.worst === 3 ? 1 : this.worst === 2 ? 3 : this.worst === 1 ? 2 : 0;
    if (this.omitted > 0) {
      this.warnings.push({
        code: 'PROBLEMS_OMITTED',
        kind: 'warning',
        message: `${this.omitted} further problems or warnings not listed`,
      });
    }
    return {
      exitCode,
      status:
        exitCode === 0
          ? 'verified'
          : exitCode === 1
            ? 'tampered'
            : exitCode === 2
              ? 'incomplete'
              : 'error',
      dir: this.dir,
      origin: this.origin,
      records: this.records,
      bytes: this.bytes,
      segments: this.segments,
      checkpoints: this.checkpoints,
      signedThrough: this.signedThrough,
      headSeq: this.headSeq,
      problems: this.problems,
      warnings: this.warnings,
      recoveries: this.recoveries,
      pruned: this.pruned,
      trustedKeys: [...this.keys.keys()],
      anchorChecked: this.anchorChecked,
    };
  }

  async run(
    anchorPath: string | undefined,
    onProgress: ((p: VerifyProgress) => void) | undefined,
  ): Promise<void> {
    // Checkpoint files first, segments second: a live writer adds a checkpoint line only
    // after its records are durable, so every line read here is within the segments listed
    // afterwards, and a concurrent verify never sees a checkpoint "beyond the end".
    const anchor = anchorPath ? readAnchorFile(anchorPath) : undefined;
    const storeLog = readAnchorFile(path.join(this.dir, STORE_CHECKPOINTS_FILE));
    const segments = listSegments(this.dir);
    this.segments = segments.length;
    if (segments.length === 0) {
      const behind = anchor?.entries.find((e) => e.store === this.dir);
      if (behind) {
        this.add(
          'tampering',
          'ANCHOR_BEYOND_END',
          `the store has no segments but the anchor holds its checkpoint at seq ${behind.size}: the store was deleted`,
        );
      } else {
        this.add(
          'unverifiable',
          'STORE_EMPTY',
          `no segments in ${path.join(this.dir, 'segments')}`,
        );
      }
      return;
    }
    if (this.keys.size === 0) {
      this.add(
        'unverifiable',
        'NO_TRUSTED_KEY',
        'no trusted public key: pass --public-key or put public-key.pem in the trust directory; signatures cannot be checked',
      );
    }

    if (segments[0]!.segment === 1) {
      // An unpruned store starts at seq 1 after the genesis hash.
      this.expectedSeq = 1;
      this.prevHash = GENESIS_HASH;
    }
    this.origin = peekOrigin(segments[0]!.path);
    this.loadExternal(anchor, storeLog);
    const totalBytes = segments.reduce((n, s) => n + s.size, 0);
    let doneBytes = 0;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const prevSeg = segments[i - 1];
      if (prevSeg && seg.segment !== prevSeg.segment + 1) {
        for (let missing = prevSeg.segment + 1; missing < seg.segment; missing++) {
          this.add(
            'tampering',
            'SEGMENT_MISSING',
            `segment ${missing} is missing between ${prevSeg.segment} and ${seg.segment}`,
            missing,
          );
        }
      }
      this.verifySegment(seg, i === segments.length - 1, (bytes) => {
        doneBytes += bytes;
        onProgress?.({
          segment: seg.segment,
          segments: segments.length,
          bytes: doneBytes,
          totalBytes,
          records: this.records,
        });
      });
      if (i + 1 < segments.length) await new Promise((r) => setImmediate(r));
    }
    this.finish(anchor, anchorPath);
  }

  /** Register anchor and store-log checkpoints so the scan can compare them at their seq. */
  loadExternal(
    anchor: ReturnType<typeof readAnchorFile>,
    storeLog: ReturnType<typeof readAnchorFile>,
  ): void {
    const sources: Array<[ExternalCheckpoint['source'], ReturnType<typeof readAnchorFile>]> = [
      ['anchor', anchor],
      ['store checkpoint log', storeLog],
    ];
    for (const [source, file] of sources) {
      if (!file) continue;
      // A garbled line cannot hide anything (checkpoints are only ever added, and each is
      // checked on its own); a crash in the middle of an append leaves one. Warn only.
      for (const line of file.malformed) {
        this.add(
          'warning',
          source === 'anchor' ? 'ANCHOR_MALFORMED' : 'CHECKPOINT_LOG_MALFORMED',
          `${source} line ${line} is not a well-formed checkpoint`,
        );
      }
      for (const entry of file.entries) {
        if (entry.origin !== this.origin) continue;
        const list = this.external.get(entry.size) ?? [];
        list.push({ entry, source, matched: undefined });
        this.external.set(entry.size, list);
      }
    }
  }

  verifySegment(seg: SegmentFile, isLast: boolean, onChunk: (bytes: number) => void): void {
    let index = 0;
    let sealed = false;
    let sealReported = false;
    const segment = seg.segment;
    // Sealed segment fast path: the SHA-256 of every byte before the seal is computed in
    // bulk as the file streams by, and ordinary span/event lines are only skimmed (see
    // fastLine). If that digest equals the seal's, those bytes are exactly what the writer
    // wrote, which is as strong as hashing each record: the seal's own hash is linked into
    // the chain that the next segment and finally a signed checkpoint vouch for. If it does
    // not, verification restarts record by record. The header, the seal and every special
    // record always take the full path.
    // The digest a seal is checked against is computed in bulk from the chunks as they are
    // read (a per-line update cost ~14% of verify), up to where the seal line starts.
    const seal = sealOf(seg);
    const skim = seal !== undefined && this.fast;
    const bulk = seal ? createHash('sha256') : undefined;
    let actualDigest: string | undefined;
    const scan = scanLines(
      seg.path,
      (buf, start, end, offset) => {
        this.records += 1;
        const first = index === 0;
        index += 1;
        if (seal) {
          if (offset < seal.offset) {
            if (skim && !first && this.fastLine(buf, start, end, segment)) return;
          } else if (offset === seal.offset && actualDigest === undefined) {
            actualDigest = bulk!.digest('hex');
            if (skim && actualDigest !== seal.sha256) throw RESTART_SLOW;
          }
        }
        this.syncFast();
        if (sealed && !sealReported) {
          sealReported = true;
          this.add(
            'tampering',
            'RECORD_AFTER_SEAL',
            `segment ${segment} has records after its seal record`,
            segment,
          );
        }
        const env = parseEnvelope(buf, start, end);
        const expected = this.expectedSeq;
        if (typeof env === 'string') {
          // Valid JSON of a record but not its canonical bytes (re-serialised: other member
          // order, spaces, escapes) is reported as such; anything else is malformed.
          const parsed = parseRecordJson(buf.toString('utf8', start, end));
          this.add(
            'tampering',
            parsed ? 'RECORD_NOT_CANONICAL' : 'RECORD_MALFORMED',
            parsed
              ? `segment ${segment} seq ${expected ?? parsed.seq}: record is not in canonical form (re-serialised)`
              : `segment ${segment} byte ${offset}: not a well-formed record (${env})`,
            segment,
            expected ?? parsed?.seq,
          );
          // Link the next record to the hash this one claims, so one re-serialised record is
          // reported once; a malformed one breaks the chain.
          this.prevHash = parsed?.hash;
          if (expected !== undefined) this.expectedSeq = expected + 1;
          return;
        }
        const computed = computeLineHash(buf, start, end);
        if (computed !== env.hash) {
          // Name the record by its position in the chain: a flipped digit in `seq` itself
          // must not send the reader to another record.
          const at = expected ?? env.seq;
          this.add(
            'tampering',
            this.classifyMismatch(buf.toString('utf8', start, end), env.hash),
            `segment ${segment} seq ${at}: record bytes do not match its hash`,
            segment,
            at,
          );
        }
        this.firstPresent ??= { seq: env.seq, prev: env.prev, segment };
        if (expected === undefined) {
          // First record of a pruned store: its position is justified by a prune record.
        } else if (env.seq !== expected && computed === env.hash) {
          // Named by the seq expected at this position: where the chain went wrong.
          this.add(
            'tampering',
            env.seq > expected ? 'SEQUENCE_GAP' : 'SEQUENCE_REGRESSION',
            env.seq > expected
              ? `segment ${segment}: seq ${expected} expected, found ${env.seq} (records missing or moved)`
              : `segment ${segment}: seq ${expected} expected, found ${env.seq} (records reordered or duplicated)`,
            segment,
            expected,
          );
        }
        if (expected !== undefined && this.prevHash !== undefined && env.prev !== this.prevHash) {
          this.add(
            'tampering',
            'CHAIN_BROKEN',
            `segment ${segment} seq ${env.seq}: prev does not match the hash of the record before it`,
            segment,
            env.seq,
          );
        } else if (expected !== undefined && this.prevHash === undefined) {
          this.add(
            'tampering',
            'CHAIN_BROKEN',
            `segment ${segment} seq ${env.seq}: follows a damaged record, the chain cannot be linked`,
            segment,
            env.seq,
          );
        }
        if (env.time < this.lastTime) {
          this.timeRegressions += 1;
          if (this.timeRegressions <= 5) {
            this.add(
              'warning',
              'TIME_REGRESSION',
              `segment ${segment} seq ${env.seq}: time ${env.time} is before the previous record's ${this.lastTime} (clock jumped back; order comes from seq)`,
              segment,
              env.seq,
            );
          }
        }
        this.lastTime = env.time;
        if (first && env.type !== 'segment.open') {
          this.add(
            'tampering',
            'SEGMENT_HEADER_MISSING',
            `segment ${segment} does not start with a segment.open record`,
            segment,
            expected ?? env.seq,
          );
        }
        switch (env.type) {
          case 'segment.open':
            this.checkHeader(buf, env, first, segment);
            break;
          case 'segment.seal':
            sealed = true;
            this.checkSeal(
              buf,
              env,
              segment,
              offset,
              index - 1,
              offset === seal?.offset ? actualDigest : undefined,
            );
            break;
          case 'checkpoint':
            this.checkInChainCheckpoint(buf, env, segment, computed);
            break;
          case 'recovery':
            this.noteRecovery(buf, env, segment);
            break;
          case 'prune':
            this.notePrune(buf, env, segment);
            break;
          default:
            break;
        }
        if (env.type !== 'checkpoint') this.lastNonCheckpointSeq = env.seq;
        else this.checkpointSeqs.add(env.seq);
        const ext = this.external.get(env.seq);
        if (ext) for (const e of ext) e.matched = e.entry.head === computed;
        this.prevHash = computed;
        const chainSeq = computed !== env.hash && expected !== undefined ? expected : env.seq;
        this.expectedSeq = chainSeq + 1;
        this.headSeq = chainSeq;
        this.headHash = computed;
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
    this.syncFast();
    // Skimmed lines are only trusted once the digest has been compared at the seal line.
    if (skim && actualDigest === undefined) throw RESTART_SLOW;
    this.bytes += scan.completeBytes + scan.tornBytes;
    if (scan.tornBytes > 0) {
      if (isLast) {
        this.add(
          'unverifiable',
          'TORN_TAIL',
          `segment ${segment} ends with ${scan.tornBytes} bytes of an incomplete record (a crash mid-write); opening the store for writing sets them aside with a recovery record`,
          segment,
        );
      } else {
        this.add(
          'tampering',
          'SEGMENT_TRUNCATED',
          `segment ${segment} ends in the middle of a record but is not the last segment`,
          segment,
        );
      }
    }
    if (!sealed && !isLast) {
      this.add(
        'tampering',
        'SEGMENT_NOT_SEALED',
        `segment ${segment} has no seal record but a later segment exists (truncated or replaced)`,
        segment,
      );
    }
  }

  /**
   * An ordinary record (span.start, span.end, event) inside a digest-verified sealed prefix:
   * its bytes are the writer's, so seq follows from position and the stored hash is right.
   * Only what verify reports from such records is extracted (time order, anchor matches).
   * Returns false for anything else, which then takes the full path.
   */
  fastLine(buf: Buffer, start: number, end: number, segment: number): boolean {
    const seq = this.expectedSeq;
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
    const regressed = this.fastTimeSet
      ? buf.compare(this.fastTime, 0, ISO_TIME_LENGTH, timeStart, timeEnd) < 0
      : buf.toString('latin1', timeStart, timeEnd) < this.lastTime;
    if (regressed) {
      this.timeRegressions += 1;
      if (this.timeRegressions <= 5) {
        const time = buf.toString('latin1', timeStart, timeEnd);
        this.add(
          'warning',
          'TIME_REGRESSION',
          `segment ${segment} seq ${seq}: time ${time} is before the previous record's (clock jumped back; order comes from seq)`,
          segment,
          seq,
        );
      }
    }
    // Copies into reused buffers instead of strings: this runs for almost every record.
    buf.copy(this.fastTime, 0, timeStart, timeEnd);
    buf.copy(this.fastHash, 0, start + 9, start + 73);
    this.fastTimeSet = true;
    this.fastPending = true;
    const ext = this.external.get(seq);
    if (ext) {
      const hash = this.fastHash.toString('latin1');
      for (const e of ext) e.matched = e.entry.head === hash;
    }
    this.lastNonCheckpointSeq = seq;
    this.expectedSeq = seq + 1;
    this.headSeq = seq;
    return true;
  }

  /** Bring the string state up to date after skimmed lines, before a full check. */
  syncFast(): void {
    if (this.fastPending) {
      this.fastPending = false;
      const hash = this.fastHash.toString('latin1');
      this.prevHash = hash;
      this.headHash = hash;
      this.lastTime = this.fastTime.toString('latin1');
    }
    // The next full-path line sets lastTime; the next skimmed line compares against that.
    this.fastTimeSet = false;
  }

  fast = true;
  fastPending = false;
  fastTimeSet = false;
  readonly fastTime = Buffer.alloc(ISO_TIME_LENGTH);
  readonly fastHash = Buffer.alloc(64);

  classifyMismatch(line: string, stored: string): string {
    try {
      const value = JSON.parse(line) as Record<string, unknown>;
      const { hash: _ignored, ...rest } = value;
      if (oneShotHash('sha256', canonicalJson(rest), 'hex') === stored)
        return 'RECORD_NOT_CANONICAL';
    } catch {
      // Not JSON at all: plain mismatch.
    }
    return 'RECORD_HASH_MISMATCH';
  }

  payload(
    buf: Buffer,
    env: { payloadStart: number; payloadEnd: number },
  ): Record<string, unknown> | undefined {
    try {
      const value = JSON.parse(buf.toString('utf8', env.payloadStart, env.payloadEnd)) as unknown;
      return value !== null && typeof value === 'object' && !Array.isArray(value)
        ? (value as Record<string, unknown>)
        : undefined;
    } catch {
      return undefined;
    }
  }

  checkHeader(
    buf: Buffer,
    env: { seq: number; payloadStart: number; payloadEnd: number },
    first: boolean,
    segment: number,
  ): void {
    const p = this.payload(buf, env);
    if (!first) {
      this.add(
        'tampering',
        'SEGMENT_HEADER_MISPLACED',
        `segment ${segment} has a header in the middle`,
        segment,
        env.seq,
      );
    }
    if (!p || typeof p.origin !== 'string' || p.format !== FORMAT_VERSION) {
      this.add(
        'tampering',
        'SEGMENT_HEADER_INVALID',
        `segment ${segment} header is invalid`,
        segment,
        env.seq,
      );
      return;
    }
    if (this.origin === null) {
      this.origin = p.origin;
    } else if (p.origin !== this.origin) {
      this.add(
        'tampering',
        'ORIGIN_MISMATCH',
        `segment ${segment} belongs to store ${p.origin}, not ${this.origin}`,
        segment,
        env.seq,
      );
    }
    if (p.segment !== segment) {
      this.add(
        'tampering',
        'SEGMENT_RENAMED',
        `file of segment ${segment} holds segment ${String(p.segment)} (moved or renamed)`,
        segment,
        env.seq,
      );
    }
  }

  checkSeal(
    buf: Buffer,
    env: { seq: number; payloadStart: number; payloadEnd: number },
    segment: number,
    offset: number,
    recordsBefore: number,
    /** SHA-256 of the segment's bytes before this line; undefined when not computed. */
    actual: string | undefined,
  ): void {
    const p = this.payload(buf, env);
    if (
      !p ||
      p.segment !== segment ||
      p.bytes !== offset ||
      p.records !== recordsBefore ||
      p.lastSeq !== env.seq - 1 ||
      p.sha256 !== actual
    ) {
      this.add(
        'tampering',
        'SEGMENT_SEAL_MISMATCH',
        `segment ${segment}: the seal record does not match the segment's bytes or record count`,
        segment,
        env.seq,
      );
    }
    if (p?.damaged === true) {
      this.add(
        'warning',
        'SEGMENT_SEALED_DAMAGED',
        `segment ${segment} was sealed as damaged after an fsync failure; unacknowledged bytes were set aside`,
        segment,
        env.seq,
      );
    }
  }

  checkInChainCheckpoint(
    buf: Buffer,
    env: { seq: number; prev: string; payloadStart: number; payloadEnd: number },
    segment: number,
    _computed: string,
  ): void {
    this.checkpoints += 1;
    const p = this.payload(buf, env);
    const shape = checkpointShapeProblem(p);
    if (shape !== undefined) {
      this.add(
        'tampering',
        'CHECKPOINT_MALFORMED',
        `segment ${segment} seq ${env.seq}: ${shape}`,
        segment,
        env.seq,
      );
      return;
    }
    const c = p as unknown as SignedCheckpoint;
    this.inChainSigs.set(c.size, c.sig);
    if (!this.checkSignature(c, `checkpoint at seq ${env.seq}`, segment, env.seq)) return;
    if (c.size !== env.seq - 1) {
      this.add(
        'tampering',
        'CHECKPOINT_MISPLACED',
        `segment ${segment} seq ${env.seq}: checkpoint for size ${c.size} must directly follow the record it signs`,
        segment,
        env.seq,
      );
      return;
    }
    if (this.prevHash === undefined || c.head !== this.prevHash) {
      this.add(
        'tampering',
        'CHECKPOINT_HEAD_MISMATCH',
        `segment ${segment} seq ${env.seq}: the signed head does not match record ${c.size} (records before it were changed, inserted or removed)`,
        segment,
        c.size,
      );
      return;
    }
    if (this.keys.has(c.keyId)) this.signedThrough = Math.max(this.signedThrough, c.size);
  }

  /** Origin, trusted key and signature; returns false when the checkpoint must be ignored. */
  checkSignature(c: SignedCheckpoint, what: string, segment?: number, seq?: number): boolean {
    if (this.origin !== null && c.origin !== this.origin) {
      this.add(
        'tampering',
        'CHECKPOINT_ORIGIN_MISMATCH',
        `${what} belongs to store ${c.origin}, not ${this.origin} (copied from another store)`,
        segment,
        seq,
      );
      return false;
    }
    if (this.keys.size === 0) {
      this.unverifiedSignatures += 1;
      return true;
    }
    const key = this.keys.get(c.keyId);
    if (!key) {
      this.add(
        'tampering',
        'CHECKPOINT_UNTRUSTED_KEY',
        `${what} is signed by key ${c.keyId}, which is not a trusted key (${[...this.keys.keys()].join(', ')})`,
        segment,
        seq,
      );
      return false;
    }
    if (!verifyCheckpointSignature(c, key)) {
      this.add(
        'tampering',
        'CHECKPOINT_BAD_SIGNATURE',
        `${what} has an invalid signature`,
        segment,
        seq,
      );
      return false;
    }
    return true;
  }

  noteRecovery(
    buf: Buffer,
    env: { seq: number; payloadStart: number; payloadEnd: number },
    segment: number,
  ): void {
    const p = this.payload(buf, env);
    if (
      !p ||
      typeof p.file !== 'string' ||
      typeof p.length !== 'number' ||
      typeof p.sha256 !== 'string'
    ) {
      this.add(
        'tampering',
        'RECOVERY_MALFORMED',
        `segment ${segment} seq ${env.seq}: malformed recovery record`,
        segment,
        env.seq,
      );
      return;
    }
    const recovery: VerifyRecovery = {
      seq: env.seq,
      segment,
      tornSegment: Number(p.segment),
      offset: Number(p.offset),
      length: p.length,
      sha256: p.sha256,
      file: p.file,
      reason: String(p.reason),
    };
    this.recoveries.push(recovery);
    const file = path.join(this.dir, p.file);
    if (!p.file.startsWith(`${RECOVERED_DIR}/`) || p.file.includes('..')) {
      this.add(
        'tampering',
        'RECOVERY_MALFORMED',
        `recovery record at seq ${env.seq} names a file outside recovered/`,
        segment,
        env.seq,
      );
      return;
    }
    let bytes: Buffer | undefined;
    try {
      bytes = fs.readFileSync(file);
    } catch {
      bytes = undefined;
    }
    if (!bytes) {
      this.add(
        'warning',
        'RECOVERED_BYTES_MISSING',
        `the set-aside bytes ${p.file} (recovery at seq ${env.seq}) are missing`,
        segment,
        env.seq,
      );
    } else if (bytes.length !== p.length || oneShotHash('sha256', bytes, 'hex') !== p.sha256) {
      this.add(
        'warning',
        'RECOVERED_BYTES_CHANGED',
        `the set-aside bytes ${p.file} do not match recovery record ${env.seq}`,
        segment,
        env.seq,
      );
    }
  }

  notePrune(
    buf: Buffer,
    env: { seq: number; payloadStart: number; payloadEnd: number },
    segment: number,
  ): void {
    const p = this.payload(buf, env);
    if (
      !p ||
      !Array.isArray(p.segments) ||
      typeof p.firstSeq !== 'number' ||
      typeof p.lastSeq !== 'number' ||
      typeof p.lastHash !== 'string'
    ) {
      this.add(
        'tampering',
        'PRUNE_MALFORMED',
        `segment ${segment} seq ${env.seq}: malformed prune record`,
        segment,
        env.seq,
      );
      return;
    }
    if (this.keys.size > 0) {
      const key = this.keys.get(String(p.keyId));
      if (!key || !verifyPruneSignature(p, key) || p.origin !== this.origin) {
        this.add(
          'tampering',
          'PRUNE_BAD_SIGNATURE',
          `prune record at seq ${env.seq} is not signed by a trusted key of this store`,
          segment,
          env.seq,
        );
        return;
      }
    }
    this.pruneHashes.set(env.seq, p.lastHash);
    this.pruned.push({
      seq: env.seq,
      segments: p.segments as number[],
      firstSeq: p.firstSeq,
      lastSeq: p.lastSeq,
      before: String(p.before),
    });
  }

  finish(anchor: ReturnType<typeof readAnchorFile>, anchorPath: string | undefined): void {
    // A store that does not start at segment 1 / seq 1 must have been pruned, by a signed
    // prune record whose last seq and hash are exactly where the remaining chain starts.
    const fp = this.firstPresent;
    if (fp && fp.segment !== 1) {
      const ok = this.pruned.some(
        (pr) =>
          pr.lastSeq === fp.seq - 1 &&
          pr.segments.includes(fp.segment - 1) &&
          this.pruneHash(pr) === fp.prev,
      );
      if (!ok) {
        this.add(
          'tampering',
          'SEGMENT_MISSING',
          `the store starts at segment ${fp.segment} seq ${fp.seq}, and no signed prune record accounts for what came before`,
          fp.segment > 1 ? fp.segment - 1 : fp.segment,
          fp.seq,
        );
      }
    }
    const prunedThrough = Math.max(0, ...this.pruned.map((p) => p.lastSeq));

    for (const [size, list] of this.external) {
      for (const e of list) {
        const what = `${e.source} checkpoint at seq ${size}`;
        if (!this.checkSignature(e.entry, what)) continue;
        if (size <= prunedThrough) continue;
        if (size > this.headSeq) {
          this.add(
            'tampering',
            e.source === 'anchor' ? 'ANCHOR_BEYOND_END' : 'CHECKPOINT_BEYOND_END',
            `the ${what} covers more than the store holds (it ends at seq ${this.headSeq}): records were truncated or the store was rolled back`,
            undefined,
            this.headSeq + 1,
          );
        } else if (e.matched !== true) {
          this.add(
            'tampering',
            e.source === 'anchor' ? 'ANCHOR_HEAD_MISMATCH' : 'CHECKPOINT_HEAD_MISMATCH',
            `the ${what} does not match the store's record ${size} (the store was rewritten or rolled back)`,
            undefined,
            size,
          );
        } else if (this.inChainSigs.get(size) !== e.entry.sig) {
          // The writer anchors a checkpoint only once its chained record is durable, so the
          // record must be there: its absence means the store's end was cut off.
          this.add(
            'tampering',
            'CHECKPOINT_RECORD_MISSING',
            `the ${what} has no matching checkpoint record at seq ${size + 1} in the store (records removed from the end)`,
            undefined,
            size + 1,
          );
        } else if (this.keys.has(e.entry.keyId)) {
          this.signedThrough = Math.max(this.signedThrough, size);
        }
      }
    }

    if (anchorPath === undefined) {
      this.add(
        'unverifiable',
        'ANCHOR_NOT_CHECKED',
        'no anchor given: truncation or rollback of the whole store cannot be ruled out',
      );
    } else if (!anchor) {
      this.add(
        'unverifiable',
        'ANCHOR_MISSING',
        `anchor file ${anchorPath} not found: rollback cannot be ruled out`,
      );
    } else if (![...this.external.values()].some((l) => l.some((e) => e.source === 'anchor'))) {
      this.add(
        'unverifiable',
        'ANCHOR_NO_ENTRIES',
        `anchor file ${anchorPath} holds no checkpoint of this store (origin ${this.origin})`,
      );
    } else {
      this.anchorChecked = true;
    }

    if (this.checkpoints === 0 && this.external.size === 0) {
      this.add(
        'unverifiable',
        'NO_CHECKPOINT',
        'the store holds no signed checkpoint: nothing is covered by a signature',
      );
    } else if (this.keys.size > 0 && this.lastNonCheckpointSeq > this.signedThrough) {
      let first = this.signedThrough + 1;
      while (this.checkpointSeqs.has(first)) first += 1;
      this.add(
        'unverifiable',
        'UNSIGNED_TAIL',
        `records from seq ${first} to ${this.lastNonCheckpointSeq} are not covered by a signed checkpoint (writer still running, or crashed; a clean close signs them)`,
        undefined,
        first,
      );
    }
    if (this.timeRegressions > 5) {
      this.add(
        'warning',
        'TIME_REGRESSION',
        `${this.timeRegressions} records in total have a time before their predecessor's`,
      );
    }
  }

  pruneHash(pr: VerifyPrune): string | undefined {
    return this.pruneHashes.get(pr.seq);
  }

  pruneHashes = new Map<number, string>();
  /** size → signature of the in-chain checkpoint record that follows record `size`. */
  inChainSigs = new Map<number, string>();
  checkpointSeqs = new Set<number>();
}

/**
 * Where a sealed segment's seal line starts and the digest it promises, read from the tail of
 * the file; undefined when the segment does not end in an intact seal (then no fast path).
 */
function sealOf(seg: SegmentFile): { offset: number; sha256: string } | undefined {
  if (seg.size < 2) return undefined;
  const fd = fs.openSync(seg.path, 'r');
  try {
    const tailSize = Math.min(seg.size, 64 * 1024);
    const tail = Buffer.allocUnsafe(tailSize);
    fs.readSync(fd, tail, 0, tailSize, seg.size - tailSize);
    if (tail[tailSize - 1] !== 0x0a) return undefined;
    const lineStart = tail.lastIndexOf(0x0a, tailSize - 2) + 1;
    if (lineStart === 0 && tailSize < seg.size) return undefined;
    const env = parseEnvelope(tail, lineStart, tailSize - 1);
    if (typeof env === 'string' || env.type !== 'segment.seal') return undefined;
    const p = JSON.parse(tail.toString('utf8', env.payloadStart, env.payloadEnd)) as {
      bytes?: unknown;
      sha256?: unknown;
    };
    const offset = seg.size - tailSize + lineStart;
    if (p.bytes !== offset || typeof p.sha256 !== 'string') return undefined;
    return { offset, sha256: p.sha256 };
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** The origin named by a segment's header (its first line), if readable. */
function peekOrigin(file: string): string | null {
  let origin: string | null = null;
  let done = false;
  scanLines(
    file,
    (buf, start, end) => {
      if (done) return;
      done = true;
      const env = parseEnvelope(buf, start, end);
      if (typeof env === 'string' || env.type !== 'segment.open') return;
      try {
        const p = JSON.parse(buf.toString('utf8', env.payloadStart, env.payloadEnd)) as {
          origin?: unknown;
        };
        if (typeof p.origin === 'string') origin = p.origin;
      } catch {
        // reported by the header check
      }
    },
    { to: Math.min(fs.statSync(file).size, 256 * 1024), chunkSize: 256 * 1024 },
  );
  return origin;
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
