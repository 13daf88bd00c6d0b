import { createPublicKey, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import { type PendingEntry, writerEntry } from './entry-encoder.js';
import { configurationError } from './errors.js';
import type { PruneRetention } from './prune-record.js';
import { type RetentionPolicy, samePolicy, signRetentionPolicy } from './retention-policy.js';
import { readRecordedPolicy } from './retention-records.js';
import type { SegmentFile } from './segment-files.js';

/** Why a `retention.policy` record is written: a new configured policy, or a carried copy. */
export type PolicyRecordReason = 'configured' | 'carried';

/**
 * The writer's side of the retention policy: which policy is in force (configured, else the
 * one the store last recorded), the signed `retention.policy` records that keep it in the
 * chain, and what a prune may rely on. The writer's state machine decides when a record goes
 * in (after a pending loss record, at open and after each rotation); this builds it.
 */
export class RetentionWriter {
  readonly #dir: string;
  readonly #origin: string;
  readonly #keyId: string;
  readonly #privateKey: KeyObject;
  /** The retention policy in force: configured, else the one the store last recorded. */
  #policy: RetentionPolicy | undefined;

  constructor(dir: string, origin: string, keyId: string, privateKey: KeyObject) {
    this.#dir = dir;
    this.#origin = origin;
    this.#keyId = keyId;
    this.#privateKey = privateKey;
  }

  /** The retention policy in force; undefined: none. */
  get policy(): RetentionPolicy | undefined {
    return this.#policy;
  }

  /**
   * After recovery: read the policy the store last recorded (checked: hash, signature, place in
   * the chain) and settle the policy in force. Returns the record to write now: `configured`
   * when the configured policy differs from the recorded one, `carried` when only a segment
   * before the newest holds it (every segment holds the policy in force, so it survives
   * pruning and is found cheaply); undefined when none is needed.
   */
  open(
    segments: SegmentFile[],
    configured: RetentionPolicy | undefined,
  ): PolicyRecordReason | undefined {
    const recorded = readRecordedPolicy(
      this.#dir,
      segments,
      this.#origin,
      createPublicKey(this.#privateKey),
    );
    this.#policy = configured ?? recorded?.policy;
    if (configured && !samePolicy(configured, recorded?.policy)) return 'configured';
    if (recorded && !recorded.inNewest) return 'carried';
    return undefined;
  }

  /**
   * The signed `retention.policy` record of the policy in force, chained after `after` (the
   * record right before it); undefined when there is no policy.
   */
  record(
    reason: PolicyRecordReason,
    after: { seq: number; hash: string },
    time: string,
  ): PendingEntry | undefined {
    const policy = this.#policy;
    if (!policy) return undefined;
    const body = signRetentionPolicy(
      { origin: this.#origin, keyId: this.#keyId, time, after, policy, reason },
      this.#privateKey,
    );
    return writerEntry('retention.policy', time, canonicalJson(body));
  }

  /**
   * Refuse a prune without `before` when no recorded policy has a maximum age (store-wide or a
   * tenant's): there would be nothing to decide what is old enough.
   */
  checkPruneWithoutBefore(): void {
    if (this.#policy?.maxAgeMs !== undefined) return;
    const tenantMax = Object.values(this.#policy?.tenants ?? {}).some(
      (t) => t.maxAgeMs !== undefined,
    );
    if (!tenantMax) {
      throw configurationError(
        'before',
        `a Date, or a retention policy with a maxAge recorded in ${this.#dir}`,
        undefined,
      );
    }
  }

  /** What a prune plan holds the chosen segments against (minimum and maximum ages). */
  pruneRetention(now: number, retentionMs: number): PruneRetention {
    return {
      current: this.#policy,
      now,
      origin: this.#origin,
      publicKey: createPublicKey(this.#privateKey),
      ...(retentionMs > 0 ? { sealedBefore: now - retentionMs } : {}),
    };
  }
}
