import { parseEnvelope } from '../record-format.js';
import {
  agesFor,
  formatAge,
  type RetentionPolicy,
  type RetentionPolicyBody,
  samePolicy,
  weakenings,
} from '../retention-policy.js';
import { DATA_RECORD_TYPES, tenantOf } from '../retention-records.js';
import type { VerifyOverAge } from '../types.js';
import { checkStatement } from './statement-checks.js';
import type { RecordAt, VerifyState } from './verify-state.js';

/**
 * A `retention.policy` record: a signed statement (shape, origin, trusted signature) that must
 * sit where the writer put it (`after` = the record before it; a copy replayed elsewhere is
 * `RETENTION_POLICY_MISPLACED`). A valid change that lowers a minimum or raises or removes a
 * maximum is reported as `RETENTION_POLICY_WEAKENED` (a warning: the key holder may change the
 * policy, and the chain shows it did).
 */
export function noteRetentionPolicy(
  state: VerifyState,
  buf: Buffer,
  env: RecordAt & { time?: string },
  segment: number,
): void {
  const p = checkStatement(state, 'retention.policy', buf, env, segment);
  if (!p) return;
  const body = p as unknown as RetentionPolicyBody;
  if (body.after.seq !== env.seq - 1 || body.after.hash !== state.prevHash) {
    state.log.add(
      'RETENTION_POLICY_MISPLACED',
      `segment ${segment} seq ${env.seq}: retention.policy names seq ${body.after.seq} as the record before it, which is not the chain here (a policy record replayed from elsewhere); it is not in force`,
      segment,
      env.seq,
    );
    return;
  }
  const previous = state.retentionPolicies.at(-1)?.policy;
  if (previous && !samePolicy(previous, body.policy)) {
    const weaker = weakenings(previous, body.policy);
    if (weaker.length > 0) {
      state.log.add(
        'RETENTION_POLICY_WEAKENED',
        `segment ${segment} seq ${env.seq}: the retention policy was weakened at ${body.time}: ${weaker.join('; ')}`,
        segment,
        env.seq,
      );
    }
  }
  state.retentionPolicies.push({
    seq: env.seq,
    segment,
    time: body.time,
    reason: body.reason,
    policy: body.policy,
  });
}

/** The smallest maximum age any tenant (or the default) has; undefined when none has one. */
function smallestMaximum(policy: RetentionPolicy): number | undefined {
  const all = [policy.maxAgeMs, ...Object.values(policy.tenants).map((t) => t.maxAgeMs)].filter(
    (m): m is number => m !== undefined,
  );
  return all.length === 0 ? undefined : Math.min(...all);
}

/**
 * `RETENTION_EXCEEDED` (a warning, see docs/store-format.md): data records older than their
 * tenant's maximum age under the policy in force (the chain's last valid `retention.policy`).
 * Only records older than the smallest maximum can qualify, so segments are read oldest first
 * and the scan stops after the first segment without such a record.
 */
export async function checkOverAge(state: VerifyState, now: Date): Promise<void> {
  const policy = state.retentionPolicies.at(-1)?.policy;
  if (!policy) return;
  const smallest = smallestMaximum(policy);
  if (smallest === undefined) return;
  const nowMs = now.getTime();
  const threshold = new Date(nowMs - smallest).toISOString();
  const oldest = new Map<string | undefined, VerifyOverAge>();
  for (const seg of state.source.segments()) {
    let anyOld = false;
    try {
      // A source that fetches segments (an archive) holds only the one asked for last.
      await state.source.ready?.(seg);
      state.source.scan(
        seg,
        (buf, start, end) => {
          const env = parseEnvelope(buf, start, end);
          if (typeof env === 'string' || !DATA_RECORD_TYPES.has(env.type)) return;
          if (env.time >= threshold) return;
          anyOld = true;
          const tenant = tenantOf(buf, env.tagsStart, env.tagsEnd);
          const max = agesFor(policy, tenant).maxAgeMs;
          if (max === undefined || nowMs - Date.parse(env.time) <= max) return;
          const seen = oldest.get(tenant);
          if (!seen || env.time < seen.time) {
            oldest.set(tenant, {
              tenant: tenant ?? null,
              seq: env.seq,
              segment: seg.segment,
              time: env.time,
              maxAgeMs: max,
            });
          }
        },
        { to: seg.size },
      );
    } catch {
      // The chain scan has already reported a segment it could not read.
      return;
    }
    if (!anyOld) break;
  }
  for (const o of oldest.values()) {
    state.overAge.push(o);
    state.log.add(
      'RETENTION_EXCEEDED',
      `segment ${o.segment} seq ${o.seq}: ${o.tenant === null ? 'records without a tenant' : `tenant ${JSON.stringify(o.tenant)}`} hold data from ${o.time}, ${formatAge(nowMs - Date.parse(o.time))} old, past the ${formatAge(o.maxAgeMs)} maximum of the recorded retention policy; run "agent-audit prune" (or schedule it with --every)`,
      o.segment,
      o.seq,
    );
  }
}
