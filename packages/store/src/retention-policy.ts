import type { KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import { configurationError, StoreError } from './errors.js';
import type { ChainPoint } from './session-records.js';
import { type StatementBody, signStatement } from './signed-statement.js';

/**
 * A retention policy as configured: how long records must be kept (`minAge`) and how long
 * they may be kept (`maxAge`), with per-tenant overrides (records tagged `tenant`). Ages are
 * milliseconds or a duration text such as `30d`, `12h`, `2w`.
 */
export interface RetentionPolicyInput {
  /** Never prune a record younger than this. The default value is 0 (no minimum). */
  minAge?: number | string;
  /** Data older than this is over-age: verify reports it. The default is no maximum. */
  maxAge?: number | string;
  /** Overrides for records tagged with that tenant; a missing member falls back to the above. */
  tenants?: Record<string, { minAge?: number | string; maxAge?: number | string }>;
}

/** One set of ages in milliseconds, as recorded in the store. */
export interface RetentionAges {
  minAgeMs?: number;
  maxAgeMs?: number;
}

/**
 * The normalised policy as the store records it (canonical JSON, no undefined members):
 * `minAgeMs` is always present, `maxAgeMs` only when there is a maximum.
 */
export interface RetentionPolicy {
  minAgeMs: number;
  maxAgeMs?: number;
  tenants: Record<string, RetentionAges>;
}

/**
 * The payload of a `retention.policy` record, a signed statement bound to its place in the
 * chain by `after` (the record before it), so a copy replayed elsewhere is misplaced.
 */
export interface RetentionPolicyBody extends StatementBody {
  after: ChainPoint;
  policy: RetentionPolicy;
  /** `configured`: the policy changed (or was first given); `carried`: copied into a new segment. */
  reason: 'configured' | 'carried';
}

/** Env: path of a JSON policy file, read by the SDK and the CLI when no policy is given in code. */
export const RETENTION_POLICY_ENV = 'AGENT_AUDIT_RETENTION_POLICY';

/** Milliseconds per unit of a duration text (`30d`, `12h`); the CLI's `--since 90d` uses it too. */
export const DURATION_UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const DURATION = /^(\d+)(ms|s|m|h|d|w)$/;
const AGE_EXPECTED = 'a duration such as 30d, 12h or 2w, or a whole number of milliseconds ≥ 0';

/**
 * An age option: a whole number of milliseconds ≥ 0 or a duration text (`30d`, `12h`, `2w`);
 * undefined stays undefined. Anything else is a `Configuration:` error naming `name`.
 */
export function parseRetentionAge(name: string, value: unknown): number | undefined {
  return ageMs(name, value);
}

function ageMs(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const m = DURATION.exec(value.trim());
    if (m) {
      const ms = Number(m[1]) * DURATION_UNIT_MS[m[2]!]!;
      if (Number.isSafeInteger(ms)) return ms;
    }
  }
  throw configurationError(name, AGE_EXPECTED, value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function checkKeys(name: string, value: Record<string, unknown>, allowed: string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw configurationError(`${name}.${key}`, `one of ${allowed.join(', ')}`, key);
    }
  }
}

/**
 * Validate a configured policy and normalise it to milliseconds. Every minimum must be at most
 * its maximum (a tenant's effective one, after falling back to the defaults). `name` is the
 * option's name in messages (`retention`, or the policy file).
 */
export function normaliseRetentionPolicy(input: unknown, name = 'retention'): RetentionPolicy {
  if (!isPlainObject(input)) {
    throw configurationError(name, 'an object {minAge?, maxAge?, tenants?}', input);
  }
  checkKeys(name, input, ['minAge', 'maxAge', 'tenants']);
  const minAgeMs = ageMs(`${name}.minAge`, input.minAge) ?? 0;
  const maxAgeMs = ageMs(`${name}.maxAge`, input.maxAge);
  const policy: RetentionPolicy = { minAgeMs, tenants: {} };
  if (maxAgeMs !== undefined) policy.maxAgeMs = maxAgeMs;
  if (maxAgeMs !== undefined && minAgeMs > maxAgeMs) {
    throw configurationError(`${name}.minAge`, `at most maxAge (${maxAgeMs} ms)`, `${minAgeMs} ms`);
  }
  if (input.tenants !== undefined) {
    if (!isPlainObject(input.tenants)) {
      throw configurationError(
        `${name}.tenants`,
        'an object of tenant → {minAge?, maxAge?}',
        input.tenants,
      );
    }
    for (const [tenant, ages] of Object.entries(input.tenants)) {
      const tname = `${name}.tenants[${JSON.stringify(tenant)}]`;
      if (tenant.length === 0 || tenant === '__proto__') {
        throw configurationError(tname, 'a non-empty tenant name other than __proto__', tenant);
      }
      if (!isPlainObject(ages))
        throw configurationError(tname, 'an object {minAge?, maxAge?}', ages);
      checkKeys(tname, ages, ['minAge', 'maxAge']);
      const t: RetentionAges = {};
      const tMin = ageMs(`${tname}.minAge`, ages.minAge);
      const tMax = ageMs(`${tname}.maxAge`, ages.maxAge);
      if (tMin !== undefined) t.minAgeMs = tMin;
      if (tMax !== undefined) t.maxAgeMs = tMax;
      const effMin = tMin ?? minAgeMs;
      const effMax = tMax ?? maxAgeMs;
      if (effMax !== undefined && effMin > effMax) {
        throw configurationError(
          `${tname}.minAge`,
          `at most that tenant's maxAge (${effMax} ms)`,
          `${effMin} ms`,
        );
      }
      policy.tenants[tenant] = t;
    }
  }
  return policy;
}

/**
 * Read a policy file (JSON, the shape of `RetentionPolicyInput`), validated. A file that cannot
 * be read, parsed or validated is a `CONFIGURATION` error naming it.
 */
export function readRetentionPolicyFile(file: string): RetentionPolicyInput {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new StoreError(
      'CONFIGURATION',
      `Configuration: retention policy file ${file} cannot be read (${(error as Error).message}); give the path of a JSON file such as {"minAge":"30d","maxAge":"400d"}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StoreError(
      'CONFIGURATION',
      `Configuration: retention policy file ${file} is invalid, expected JSON such as {"minAge":"30d","maxAge":"400d"} (actual: ${(error as Error).message})`,
    );
  }
  normaliseRetentionPolicy(parsed, `retention policy ${file}`);
  return parsed as RetentionPolicyInput;
}

/** The ages that apply to records of `tenant` (undefined: records without a tenant tag). */
export function agesFor(policy: RetentionPolicy, tenant: string | undefined): RetentionAges {
  const t =
    tenant === undefined || !Object.hasOwn(policy.tenants, tenant)
      ? undefined
      : policy.tenants[tenant];
  const minAgeMs = t?.minAgeMs ?? policy.minAgeMs;
  const maxAgeMs = t?.maxAgeMs ?? policy.maxAgeMs;
  return maxAgeMs === undefined ? { minAgeMs } : { minAgeMs, maxAgeMs };
}

/** Whether two normalised policies say the same (member order does not matter). */
export function samePolicy(
  a: RetentionPolicy | undefined,
  b: RetentionPolicy | undefined,
): boolean {
  if (a === undefined || b === undefined) return a === b;
  const key = (p: RetentionPolicy) =>
    JSON.stringify([
      p.minAgeMs,
      p.maxAgeMs ?? null,
      Object.keys(p.tenants)
        .sort()
        .map((t) => [t, p.tenants[t]!.minAgeMs ?? null, p.tenants[t]!.maxAgeMs ?? null]),
    ]);
  return key(a) === key(b);
}

/**
 * How `next` weakens `previous`, one phrase per weakening (empty when it does not): a lower
 * minimum or a higher or removed maximum, for the defaults or for any tenant either names.
 */
export function weakenings(previous: RetentionPolicy, next: RetentionPolicy): string[] {
  const out: string[] = [];
  const tenants = new Set([
    undefined,
    ...Object.keys(previous.tenants),
    ...Object.keys(next.tenants),
  ]);
  for (const tenant of tenants) {
    const a = agesFor(previous, tenant);
    const b = agesFor(next, tenant);
    const who = tenant === undefined ? 'default' : `tenant ${JSON.stringify(tenant)}`;
    if ((b.minAgeMs ?? 0) < (a.minAgeMs ?? 0)) {
      out.push(
        `${who} minimum lowered from ${formatAge(a.minAgeMs ?? 0)} to ${formatAge(b.minAgeMs ?? 0)}`,
      );
    }
    if (a.maxAgeMs !== undefined && (b.maxAgeMs === undefined || b.maxAgeMs > a.maxAgeMs)) {
      out.push(
        `${who} maximum ${b.maxAgeMs === undefined ? 'removed' : `raised to ${formatAge(b.maxAgeMs)}`} (was ${formatAge(a.maxAgeMs)})`,
      );
    }
  }
  return out;
}

/** A duration for messages: `30d`, `36h`, `90m`, `45s` or `250ms`. */
export function formatAge(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  if (ms >= 86_400_000) return `${(ms / 86_400_000).toFixed(1)}d`;
  if (ms >= 3_600_000) return `${(ms / 3_600_000).toFixed(1)}h`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)}s`;
  return `${ms}ms`;
}

export function signRetentionPolicy(
  body: RetentionPolicyBody,
  privateKey: KeyObject,
): RetentionPolicyBody & { sig: string } {
  return signStatement(body, privateKey);
}

function agesShape(value: unknown, min: 'required' | 'optional'): boolean {
  if (!isPlainObject(value)) return false;
  for (const [k, v] of Object.entries(value)) {
    if (k === 'tenants' && min === 'required') continue;
    if (k !== 'minAgeMs' && k !== 'maxAgeMs') return false;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return false;
  }
  return min === 'optional' || typeof value.minAgeMs === 'number';
}

/** Why a `retention.policy` payload is not well-formed, or undefined when it is. */
export function retentionPolicyShapeProblem(payload: unknown): string | undefined {
  if (!isPlainObject(payload)) return 'payload is not an object';
  for (const k of ['origin', 'keyId', 'time', 'sig']) {
    if (typeof payload[k] !== 'string') return `${k} missing`;
  }
  const after = payload.after;
  if (!isPlainObject(after) || typeof after.seq !== 'number' || typeof after.hash !== 'string') {
    return 'after is not {seq, hash}';
  }
  if (payload.reason !== 'configured' && payload.reason !== 'carried') return 'reason is invalid';
  const policy = payload.policy;
  if (!agesShape(policy, 'required') || !isPlainObject((policy as { tenants?: unknown }).tenants)) {
    return 'policy is not {minAgeMs, maxAgeMs?, tenants}';
  }
  for (const ages of Object.values((policy as { tenants: Record<string, unknown> }).tenants)) {
    if (!agesShape(ages, 'optional')) return 'a tenant entry is not {minAgeMs?, maxAgeMs?}';
  }
  return undefined;
}
