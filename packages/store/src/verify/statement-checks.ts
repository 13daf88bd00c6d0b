import { retentionPolicyShapeProblem } from '../retention-policy.js';
import {
  lossShapeProblem,
  type SessionOpenBody,
  sessionOpenShapeProblem,
  storeCloseShapeProblem,
} from '../session-records.js';
import { verifyStatementSignature } from '../signed-statement.js';
import type { VerifyLoss, VerifySession } from '../types.js';
import { payloadOf, type RecordAt, type VerifyState } from './verify-state.js';

type StatementType = 'store.close' | 'session.open' | 'loss' | 'retention.policy';

const SHAPE: Record<StatementType, (payload: unknown) => string | undefined> = {
  'store.close': storeCloseShapeProblem,
  'session.open': sessionOpenShapeProblem,
  loss: lossShapeProblem,
  'retention.policy': retentionPolicyShapeProblem,
};

/**
 * Well-formed, of this origin, and signed by a trusted key (when there is one: without a key
 * `NO_TRUSTED_KEY` already keeps the verdict at 2). Returns the payload when it may be used.
 */
export function checkStatement(
  state: VerifyState,
  type: StatementType,
  buf: Buffer,
  env: RecordAt,
  segment: number,
): Record<string, unknown> | undefined {
  const p = payloadOf(buf, env);
  const shape = SHAPE[type](p);
  if (shape !== undefined || !p) {
    state.log.add(
      'STATEMENT_MALFORMED',
      `segment ${segment} seq ${env.seq}: ${type} record is malformed (${shape})`,
      segment,
      env.seq,
    );
    return undefined;
  }
  if (p.origin !== state.origin) {
    state.log.add(
      'STATEMENT_BAD_SIGNATURE',
      `segment ${segment} seq ${env.seq}: ${type} record belongs to store ${String(p.origin)}, not ${state.origin} (copied from another store)`,
      segment,
      env.seq,
    );
    return undefined;
  }
  if (state.keys.size > 0) {
    const key = state.keys.get(String(p.keyId));
    if (!key || !verifyStatementSignature(p, key)) {
      state.log.add(
        'STATEMENT_BAD_SIGNATURE',
        `segment ${segment} seq ${env.seq}: ${type} record is not signed by a trusted key of this store (${key ? 'invalid signature' : `key ${String(p.keyId)} is not trusted`})`,
        segment,
        env.seq,
      );
      return undefined;
    }
  }
  return p;
}

/**
 * The clean-close rule. After a `store.close` at C: C+1 must be its checkpoint (`size` = C),
 * or, when a power cut took that checkpoint, the next writer's `recovery` or `session.open`
 * (which then says `crashed`); C+2, if present, must be a valid `session.open`
 * with `after` = {C+1, its hash} and `previous: "closed"`. Called for every record, before the
 * record's own checks, with `prevHash` still the hash of the record before it.
 */
export function checkAfterClose(
  state: VerifyState,
  type: string,
  buf: Buffer,
  env: RecordAt,
  segment: number,
): void {
  const close = state.close;
  if (!close) return;
  if (close.phase === 'checkpoint') {
    const p = type === 'checkpoint' ? payloadOf(buf, env) : undefined;
    if (type === 'recovery' || type === 'session.open') {
      // The close never completed (a power cut took its checkpoint): the next writer set the
      // torn bytes aside, or opened right after it; its session.open must then say
      // `crashed`, which the session rule checks.
      state.close = undefined;
    } else if (p?.size === close.seq) {
      state.close = { seq: close.seq, phase: 'session' };
      state.cleanlyClosedAt = env.seq;
    } else {
      state.close = undefined;
      state.log.add(
        'RECORD_AFTER_CLOSE',
        `segment ${segment} seq ${env.seq}: the store was closed at seq ${close.seq}, but its closing checkpoint does not follow (a ${type} record instead)`,
        segment,
        env.seq,
      );
    }
    return;
  }
  state.close = undefined;
  if (type !== 'session.open') {
    state.log.add(
      'RECORD_AFTER_CLOSE',
      `segment ${segment} seq ${env.seq}: a ${type} record follows the clean close at seq ${close.seq} without a signed session.open (records appended after close by someone other than the writer)`,
      segment,
      env.seq,
    );
  } else {
    // Its own checks follow; remember it must be a "closed" session right after the close.
    state.sessionMustFollowClose = env.seq;
  }
}

export function noteStoreClose(state: VerifyState, buf: Buffer, env: RecordAt, segment: number) {
  const p = checkStatement(state, 'store.close', buf, env, segment);
  if (p && (p.lastSeq !== env.seq - 1 || p.lastHash !== state.prevHash)) {
    state.log.add(
      'SESSION_MISPLACED',
      `segment ${segment} seq ${env.seq}: store.close names record ${String(p.lastSeq)} as the one before it, which is not the chain here (replayed)`,
      segment,
      env.seq,
    );
  }
  // A close counts as one even when its statement is bad: what follows must still be right.
  state.close = { seq: env.seq, phase: 'checkpoint' };
}

export function noteSessionOpen(state: VerifyState, buf: Buffer, env: RecordAt, segment: number) {
  const mustFollowClose = state.sessionMustFollowClose === env.seq;
  state.sessionMustFollowClose = undefined;
  const p = checkStatement(state, 'session.open', buf, env, segment);
  if (!p) {
    if (mustFollowClose) afterCloseNotSession(state, env, segment);
    return;
  }
  const s = p as unknown as SessionOpenBody;
  const closed = state.cleanlyClosedAt === env.seq - 1;
  const why =
    s.after.seq !== env.seq - 1 || s.after.hash !== state.prevHash
      ? `its after {seq ${s.after.seq}} is not the record before it (replayed from another point of the chain)`
      : (s.previous === 'closed') !== closed
        ? `it says the previous writer ${s.previous === 'closed' ? 'closed' : 'crashed'}, but the chain before it ${closed ? 'ends with a clean close' : 'does not end with store.close and its checkpoint'}`
        : s.attested.seq > s.after.seq
          ? `its attested seq ${s.attested.seq} is after the record before it`
          : s.unattested !== null &&
              (s.previous === 'closed' ||
                s.unattested.fromSeq <= s.attested.seq ||
                s.unattested.toSeq > s.after.seq)
            ? `its unattested range ${s.unattested.fromSeq}–${s.unattested.toSeq} does not lie between attested ${s.attested.seq} and ${s.after.seq}`
            : undefined;
  if (why) {
    state.log.add(
      'SESSION_MISPLACED',
      `segment ${segment} seq ${env.seq}: session.open is not where the writer put it: ${why}`,
      segment,
      env.seq,
    );
    if (mustFollowClose) afterCloseNotSession(state, env, segment);
    return;
  }
  const session: VerifySession = {
    seq: env.seq,
    segment,
    time: s.time,
    keyId: s.keyId,
    previous: s.previous,
    attested: { seq: s.attested.seq, hash: s.attested.hash },
    unattested: s.unattested ? { fromSeq: s.unattested.fromSeq, toSeq: s.unattested.toSeq } : null,
  };
  state.sessions.push(session);
  if (s.unattested) {
    state.log.add(
      'RECOVERED_UNATTESTED',
      `segment ${segment} seq ${env.seq}: after a crash the writer signed over records ${s.unattested.fromSeq}–${s.unattested.toSeq}, which nobody had acknowledged before (attested through seq ${s.attested.seq}); they may have been added or changed while no writer ran`,
      segment,
      s.unattested.fromSeq,
    );
  }
}

function afterCloseNotSession(state: VerifyState, env: RecordAt, segment: number): void {
  state.log.add(
    'RECORD_AFTER_CLOSE',
    `segment ${segment} seq ${env.seq}: the record after the clean close is not a valid session.open of this store`,
    segment,
    env.seq,
  );
}

export function noteLoss(state: VerifyState, buf: Buffer, env: RecordAt, segment: number): void {
  const p = checkStatement(state, 'loss', buf, env, segment);
  if (!p) return;
  const runs = (p.runs as Array<{ run: string; count: number }>).map((r) => ({
    run: r.run,
    count: r.count,
  }));
  const loss: VerifyLoss = {
    seq: env.seq,
    segment,
    reason: String(p.reason),
    count: Number(p.count),
    firstTime: String(p.firstTime),
    lastTime: String(p.lastTime),
    runs,
  };
  state.losses.push(loss);
  const shown = runs
    .slice(0, 5)
    .map((r) => `${r.run === '' ? '(no run)' : r.run}: ${r.count}`)
    .join(', ');
  state.log.add(
    'RECORDS_LOST',
    `segment ${segment} seq ${env.seq}: ${loss.count} records were lost (${loss.reason}) between ${loss.firstTime} and ${loss.lastTime}; runs ${shown}${runs.length > 5 ? `, and ${runs.length - 5} more` : ''}`,
    segment,
    env.seq,
  );
}
