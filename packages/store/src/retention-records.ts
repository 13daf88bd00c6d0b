import type { KeyObject } from 'node:crypto';
import { StoreError } from './errors.js';
import { computeLineHash, parseEnvelope } from './record-format.js';
import {
  agesFor,
  formatAge,
  type RetentionPolicy,
  type RetentionPolicyBody,
  retentionPolicyShapeProblem,
} from './retention-policy.js';
import { listSegments, type SegmentFile, scanLines } from './segment-files.js';
import { verifyStatementSignature } from './signed-statement.js';

/** Record types that hold the caller's data (what retention is about). */
export const DATA_RECORD_TYPES: ReadonlySet<string> = new Set([
  'span.start',
  'span.end',
  'event',
  'alert',
]);

/** A `retention.policy` record read back from a segment and checked. */
export interface RecordedPolicy {
  policy: RetentionPolicy;
  seq: number;
  segment: number;
}

const TENANT_TAG = /"tenant":"((?:[^"\\]|\\.)*)"/;

/** The `tenant` tag of a record line, undefined when it has none. */
export function tenantOf(buf: Buffer, tagsStart: number, tagsEnd: number): string | undefined {
  if (tagsEnd - tagsStart < 12) return undefined;
  const m = TENANT_TAG.exec(buf.toString('utf8', tagsStart, tagsEnd));
  return m ? (JSON.parse(`"${m[1]}"`) as string) : undefined;
}

interface Checked {
  body: RetentionPolicyBody;
  seq: number;
}

/**
 * Check one `retention.policy` line as the writer must before it relies on it: the line's
 * bytes hash to its `hash`, the statement is well-formed, of this store, signed by `publicKey`,
 * and its `after` is the record before it (a policy replayed from elsewhere in the chain is
 * not). Throws `RETENTION_POLICY_INVALID`, naming the store, segment and seq, otherwise.
 */
function checkPolicyLine(
  dir: string,
  segment: number,
  buf: Buffer,
  start: number,
  end: number,
  origin: string,
  publicKey: KeyObject | undefined,
): Checked {
  const env = parseEnvelope(buf, start, end);
  const fail = (why: string, seq?: number): never => {
    throw new StoreError(
      'RETENTION_POLICY_INVALID',
      `audit store ${dir}: the retention policy record in segment ${segment}${seq === undefined ? '' : ` seq ${seq}`} cannot be trusted (${why}); run "agent-audit verify" on the store — prune will not rely on a policy it cannot verify`,
      { dir },
    );
  };
  if (typeof env === 'string') return fail(env);
  if (computeLineHash(buf, start, end) !== env.hash)
    return fail('its bytes do not match its hash', env.seq);
  let payload: unknown;
  try {
    payload = JSON.parse(buf.toString('utf8', env.payloadStart, env.payloadEnd));
  } catch {
    return fail('payload is not JSON', env.seq);
  }
  const shape = retentionPolicyShapeProblem(payload);
  if (shape !== undefined) return fail(shape, env.seq);
  const body = payload as RetentionPolicyBody & { sig: string };
  if (body.origin !== origin) return fail(`it belongs to store ${body.origin}`, env.seq);
  if (publicKey && !verifyStatementSignature(payload as Record<string, unknown>, publicKey)) {
    return fail(`not signed by this writer's key (${body.keyId})`, env.seq);
  }
  if (body.after.seq !== env.seq - 1 || body.after.hash !== env.prev) {
    return fail(
      `it names seq ${body.after.seq} as the record before it: replayed from elsewhere`,
      env.seq,
    );
  }
  return { body, seq: env.seq };
}

const POLICY_TAIL = Buffer.from(',"type":"retention.policy"}');

/** Checked policy records of one segment file, in chain order. */
export function policiesInSegment(
  dir: string,
  file: SegmentFile,
  origin: string,
  publicKey: KeyObject | undefined,
): RecordedPolicy[] {
  const out: RecordedPolicy[] = [];
  scanLines(file.path, (buf, start, end) => {
    if (end - start < POLICY_TAIL.length) return;
    if (buf.compare(POLICY_TAIL, 0, POLICY_TAIL.length, end - POLICY_TAIL.length, end) !== 0)
      return;
    const c = checkPolicyLine(dir, file.segment, buf, start, end, origin, publicKey);
    out.push({ policy: c.body.policy, seq: c.seq, segment: file.segment });
  });
  return out;
}

/**
 * The policy the store last recorded: the newest `retention.policy` record of the newest
 * segment, else of the one before it (the writer copies the policy in force into every new
 * segment, so a segment without one either has none in force, or was created by a writer that
 * stopped before it could copy it). `inNewest` says where it was found.
 */
export function readRecordedPolicy(
  dir: string,
  segments: SegmentFile[],
  origin: string,
  publicKey: KeyObject,
): (RecordedPolicy & { inNewest: boolean }) | undefined {
  for (let i = segments.length - 1; i >= Math.max(0, segments.length - 2); i--) {
    const found = policiesInSegment(dir, segments[i]!, origin, publicKey).at(-1);
    if (found) return { ...found, inNewest: i === segments.length - 1 };
  }
  return undefined;
}

/**
 * The retention policy a store records, for readers that do not open it as its writer (the
 * console, the archive push): the newest `retention.policy` record of the newest segment or the
 * one before, checked (hash, origin, place in the chain, and the signature when `publicKey` is
 * given). Undefined when the store records none; `RETENTION_POLICY_INVALID` when it cannot be
 * trusted.
 */
export function readStoreRetentionPolicy(
  dir: string,
  publicKey?: KeyObject,
): RetentionPolicy | undefined {
  const segments = listSegments(dir);
  const newest = segments.at(-1);
  if (!newest) return undefined;
  let origin: string | undefined;
  scanLines(newest.path, (buf, start, end) => {
    const env = parseEnvelope(buf, start, end);
    if (typeof env !== 'string' && env.type === 'segment.open') {
      try {
        const p = JSON.parse(buf.toString('utf8', env.payloadStart, env.payloadEnd)) as {
          origin?: unknown;
        };
        if (typeof p.origin === 'string') origin = p.origin;
      } catch {
        // A header that is not JSON: no origin, and no policy trusted below.
      }
    }
    return false;
  });
  if (origin === undefined) return undefined;
  for (let i = segments.length - 1; i >= Math.max(0, segments.length - 2); i--) {
    const found = policiesInSegment(dir, segments[i]!, origin, publicKey).at(-1);
    if (found) return found.policy;
  }
  return undefined;
}

/** Per tenant (`undefined` = no tenant tag): the youngest and oldest data record of a segment. */
export interface SegmentAges {
  tenants: Map<string | undefined, { youngest: string; oldest: string }>;
  policies: RetentionPolicy[];
  first: { seq: number } | undefined;
  last: { seq: number; hash: string; time: string; type: string } | undefined;
}

/** Read one sealed segment for prune: the data records' ages per tenant and its policies. */
export function segmentAges(
  dir: string,
  file: SegmentFile,
  origin: string,
  publicKey: KeyObject,
): SegmentAges {
  const tenants = new Map<string | undefined, { youngest: string; oldest: string }>();
  const policies: RetentionPolicy[] = [];
  let first: SegmentAges['first'];
  let last: SegmentAges['last'];
  scanLines(file.path, (buf, start, end) => {
    const env = parseEnvelope(buf, start, end);
    if (typeof env === 'string') return;
    first ??= { seq: env.seq };
    last = { seq: env.seq, hash: env.hash, time: env.time, type: env.type };
    if (env.type === 'retention.policy') {
      policies.push(
        checkPolicyLine(dir, file.segment, buf, start, end, origin, publicKey).body.policy,
      );
      return;
    }
    if (!DATA_RECORD_TYPES.has(env.type)) return;
    const tenant = tenantOf(buf, env.tagsStart, env.tagsEnd);
    const seen = tenants.get(tenant);
    if (!seen) tenants.set(tenant, { youngest: env.time, oldest: env.time });
    else {
      if (env.time > seen.youngest) seen.youngest = env.time;
      if (env.time < seen.oldest) seen.oldest = env.time;
    }
  });
  return { tenants, policies, first, last };
}

/**
 * The minimum age that protects a tenant's records in a segment: the largest of the current
 * policy's and of every policy recorded in that segment (the minimum in force while its
 * records were written). A weakened minimum therefore applies only to data written after the
 * change.
 */
export function minimumFor(
  current: RetentionPolicy | undefined,
  recorded: RetentionPolicy[],
  tenant: string | undefined,
): number {
  let min = current ? (agesFor(current, tenant).minAgeMs ?? 0) : 0;
  for (const p of recorded) min = Math.max(min, agesFor(p, tenant).minAgeMs ?? 0);
  return min;
}

/** `RETENTION_MIN_AGE`: prune was asked to remove records younger than their minimum. */
export function minAgeRefusal(
  dir: string,
  segment: number,
  tenant: string | undefined,
  youngest: string,
  now: number,
  minAgeMs: number,
): StoreError {
  const age = now - Date.parse(youngest);
  return new StoreError(
    'RETENTION_MIN_AGE',
    `audit store ${dir}: prune refused to remove segment ${segment}: its youngest record of ${tenant === undefined ? 'records without a tenant' : `tenant ${JSON.stringify(tenant)}`} (${youngest}) is ${formatAge(Math.max(0, age))} old, younger than the ${formatAge(minAgeMs)} minimum of the recorded retention policy; prune with an earlier --before (at least ${formatAge(minAgeMs)} ago), or wait`,
    { dir },
  );
}
