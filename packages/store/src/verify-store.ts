import * as path from 'node:path';
import { type AnchorRead, parseAnchorText, readAnchorFile } from './anchor-file.js';
import { configurationError, type StoreError } from './errors.js';
import { GENESIS_HASH } from './record-format.js';
import {
  ANCHOR_FILE,
  DEFAULT_STORE_DIR,
  DEFAULT_TRUST_DIR,
  STORE_CHECKPOINTS_FILE,
} from './store-paths.js';
import { loadTrustedKeys } from './trusted-keys.js';
import type { VerifyOptions, VerifyReport } from './types.js';
import { ChainScan } from './verify/chain-check.js';
import { checkIdentity } from './verify/identity-check.js';
import { checkOverAge } from './verify/retention-check.js';
import { localSegmentSource, type SegmentSource } from './verify/segment-source.js';
import { peekOrigin } from './verify/structure-checks.js';
import {
  checkAnchorStatus,
  checkCoverage,
  checkExternal,
  checkPrunedStart,
  checkStoreLog,
  loadExternal,
} from './verify/trust-checks.js';
import { VerifyState } from './verify/verify-state.js';
import { checkWitness, readWitnesses } from './verify/witness-check.js';

/**
 * Verify a store: every record's hash over its exact bytes, the chain, sequence continuity,
 * segment headers and seals, checkpoint signatures against keys pinned outside the store, and
 * the anchor. Streams the segments in large chunks (constant memory).
 *
 * Exit codes: 0 everything verified and covered by a trusted checkpoint; 1 tampering found;
 * 2 cannot fully verify (unsigned tail, no trusted key, no anchor, unrecovered torn tail);
 * 3 usage or I/O error. Codes are listed in docs/store-format.md and in
 * `verify/problem-codes.ts`.
 */
export async function verifyStore(options: VerifyOptions = {}): Promise<VerifyReport> {
  const dir = path.resolve(options.dir ?? DEFAULT_STORE_DIR);
  return verifySource(localSegmentSource(dir), options);
}

/** `verifyStore` over any segment source (a local directory, an archive). */
export async function verifySource(
  source: SegmentSource,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const trustDir = path.resolve(options.trustDir ?? DEFAULT_TRUST_DIR);
  if (options.origin !== undefined && !ORIGIN.test(options.origin)) {
    throw configurationError('origin', '32 lowercase hex digits', options.origin);
  }
  if (options.full) return verifyOnce(source, trustDir, options, false);
  const first = await verifyOnce(source, trustDir, options, true);
  // A sealed segment whose digest did not match was read on the fast path; verify again
  // record by record so that the report names the damaged record (tampering is the rare case).
  return first ?? (await verifyOnce(source, trustDir, options, false))!;
}

const ORIGIN = /^[0-9a-f]{32}$/;

/** One pass; undefined when a fast pass met a sealed segment whose digest failed. */
async function verifyOnce<Fast extends boolean>(
  source: SegmentSource,
  trustDir: string,
  options: VerifyOptions,
  fast: Fast,
): Promise<Fast extends true ? VerifyReport | undefined : VerifyReport> {
  type Out = Fast extends true ? VerifyReport | undefined : VerifyReport;
  const state = new VerifyState(source);
  try {
    if (!source.exists()) {
      deletedStore(state, options, trustDir);
      return report(state) as Out;
    }
    let trusted: ReturnType<typeof loadTrustedKeys>;
    try {
      trusted = loadTrustedKeys(source.location, options.publicKey, trustDir);
    } catch (error) {
      const code =
        (error as StoreError).code === 'KEY_UNREADABLE' ? 'KEY_UNREADABLE' : 'KEY_INVALID';
      state.log.add(code, (error as Error).message);
      return report(state) as Out;
    }
    for (const why of trusted.refused) state.log.add('KEY_INSIDE_STORE_IGNORED', why);
    state.keys = trusted.keys;
    const anchorPath =
      options.anchorPath === false
        ? undefined
        : path.resolve(options.anchorPath ?? path.join(trustDir, ANCHOR_FILE));
    const outcome = await run(state, anchorPath, fast, options);
    if (outcome === 'restart-slow') return undefined as Out;
  } catch (error) {
    state.log.add('IO_ERROR', `reading ${source.location} failed: ${(error as Error).message}`);
  }
  return report(state) as Out;
}

/**
 * No store directory: `STORE_NOT_FOUND` (3), and `ANCHOR_BEYOND_END` (1) as well when the
 * anchor binds this path: a deleted store is tampering, and tampering wins over I/O errors.
 */
function deletedStore(state: VerifyState, options: VerifyOptions, trustDir: string): void {
  state.log.add('STORE_NOT_FOUND', `no audit store at ${state.source.location}`);
  if (options.anchorPath === false) return;
  let anchor: AnchorRead | undefined;
  try {
    anchor = readAnchorFile(path.resolve(options.anchorPath ?? path.join(trustDir, ANCHOR_FILE)));
  } catch {
    return; // An unreadable anchor cannot bind the path; STORE_NOT_FOUND stands.
  }
  const bound = anchor?.entries.find((e) => e.store === state.source.location);
  if (bound) {
    state.log.add(
      'ANCHOR_BEYOND_END',
      `no store directory at ${state.source.location} but the anchor holds its checkpoint at seq ${bound.size}: the store was deleted`,
    );
  }
}

async function run(
  state: VerifyState,
  anchorPath: string | undefined,
  fast: boolean,
  options: VerifyOptions,
): Promise<'done' | 'restart-slow'> {
  const source = state.source;
  // Checkpoint files first, segments second: a live writer adds a checkpoint line only after
  // its records are durable, so every line read here is within the segments listed
  // afterwards, and a concurrent verify never sees a checkpoint "beyond the end".
  let anchor: AnchorRead | undefined;
  let anchorUnreadable = false;
  try {
    anchor = anchorPath ? readAnchorFile(anchorPath) : undefined;
  } catch (error) {
    // Verify the rest anyway: tampering found in the store still decides the verdict (1).
    anchorUnreadable = true;
    state.log.add(
      'ANCHOR_UNREADABLE',
      `cannot read the anchor file ${anchorPath} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): give read access to it, or pass the right file with --anchor`,
    );
  }
  // The writer never creates a symlink in the store: one there points the evidence (or the
  // writer) outside the store. Reported, and what it points at is still read and checked.
  for (const link of source.links?.() ?? []) {
    state.log.add(
      'STORE_SYMLINK',
      `${path.join(source.location, link)} is a symlink: the store's evidence must be real files in it (the writer never creates a link); move the link aside and check who could write the store`,
    );
  }
  const storeLog = readStoreLog(source);
  const witnesses = anchorPath ? readWitnesses(anchorPath) : undefined;
  const segments = source.segments();
  state.segments = segments.length;
  if (segments.length === 0) {
    const behind = anchor?.entries.find((e) => e.store === source.location);
    if (behind) {
      state.log.add(
        'ANCHOR_BEYOND_END',
        `the store has no segments but the anchor holds its checkpoint at seq ${behind.size}: the store was deleted`,
      );
    } else {
      state.log.add('STORE_EMPTY', `no segments in ${path.join(source.location, 'segments')}`);
    }
    return 'done';
  }
  if (state.keys.size === 0) {
    state.log.add(
      'NO_TRUSTED_KEY',
      'no trusted public key: pass --public-key or put public-key.pem in the trust directory; signatures cannot be checked',
    );
  }
  if (segments[0]!.segment === 1) {
    // An unpruned store starts at seq 1 after the genesis hash.
    state.expectedSeq = 1;
    state.prevHash = GENESIS_HASH;
  }
  await source.ready?.(segments[0]!);
  state.origin = peekOrigin(source, segments[0]!);
  loadExternal(state, anchor, storeLog);
  if (state.origin !== null) state.witness = witnesses?.get(state.origin);
  const scan = new ChainScan(state, fast);
  const totalBytes = segments.reduce((n, s) => n + s.size, 0);
  let doneBytes = 0;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const prevSeg = segments[i - 1];
    if (prevSeg && seg.segment !== prevSeg.segment + 1) {
      for (let missing = prevSeg.segment + 1; missing < seg.segment; missing++) {
        state.log.add(
          'SEGMENT_MISSING',
          `segment ${missing} is missing between ${prevSeg.segment} and ${seg.segment}`,
          missing,
        );
      }
    }
    await source.ready?.(seg);
    const outcome = scan.segment(seg, i === segments.length - 1, (bytes) => {
      doneBytes += bytes;
      options.onProgress?.({
        segment: seg.segment,
        segments: segments.length,
        bytes: doneBytes,
        totalBytes,
        records: state.records,
      });
    });
    if (outcome === 'restart-slow') return outcome;
    if (i + 1 < segments.length) await new Promise((r) => setImmediate(r));
  }
  checkIdentity(state, anchor, anchorPath, options.origin);
  checkPrunedStart(state);
  checkExternal(state);
  checkWitness(state);
  checkStoreLog(state, storeLog);
  checkAnchorStatus(state, anchor, anchorPath, anchorUnreadable);
  checkCoverage(state);
  await checkOverAge(state, options.now ?? new Date());
  if (state.timeRegressions > 5) {
    state.log.add(
      'TIME_REGRESSION',
      `${state.timeRegressions} records in total have a time before their predecessor's`,
    );
  }
  return 'done';
}

function readStoreLog(source: SegmentSource): AnchorRead | undefined {
  const bytes = source.sideFile(STORE_CHECKPOINTS_FILE);
  return bytes === undefined ? undefined : parseAnchorText(bytes.toString('utf8'));
}

function report(state: VerifyState): VerifyReport {
  state.log.close();
  const exitCode = state.log.exitCode;
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
    dir: state.source.location,
    origin: state.origin,
    records: state.records,
    bytes: state.bytes,
    segments: state.segments,
    checkpoints: state.checkpoints,
    signedThrough: state.signedThrough,
    headSeq: state.headSeq,
    problems: state.log.problems,
    warnings: state.log.warnings,
    recoveries: state.recoveries,
    pruned: state.pruned,
    sessions: state.sessions,
    losses: state.losses,
    retention: { policies: state.retentionPolicies, overAge: state.overAge },
    trustedKeys: [...state.keys.keys()],
    anchorChecked: state.anchorChecked,
  };
}
