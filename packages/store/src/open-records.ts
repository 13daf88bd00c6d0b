import type { KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import { type FsLayer, fsyncDirSync, noFollow, writeFullySync } from './fs-layer.js';
import { type EncodedRecord, encodeRecord } from './record-format.js';
import { createSegment, encodeCheckpoint, type SegmentState } from './segment-writer.js';
import { buildSessionOpen, type ChainPoint } from './session-records.js';
import { type SetAsideResult, setAside } from './set-aside.js';
import type { OpenPlan } from './store-recovery.js';
import type { SignedCheckpoint, StoreNotice } from './types.js';

/**
 * The records a writer appends when it opens an existing store, chained after `head`: the
 * `recovery` record for bytes set aside (if any), the signed `session.open`, and the
 * checkpoint over both (anchored before anything else is appended).
 */
export function encodeOpenRecords(
  plan: OpenPlan,
  head: ChainPoint,
  recovery: SetAsideResult | undefined,
  time: string,
  signer: { keyId: string; privateKey: KeyObject },
): { records: EncodedRecord[]; checkpoint: SignedCheckpoint; session: EncodedRecord } {
  const records: EncodedRecord[] = [];
  let prev = head;
  if (recovery) {
    const rec = encodeRecord(
      prev.hash,
      prev.seq + 1,
      time,
      'recovery',
      '{}',
      canonicalJson({ segment: plan.last.segment, ...recovery, reason: plan.reason }),
    );
    records.push(rec);
    prev = rec;
  }
  const after = { seq: prev.seq, hash: prev.hash };
  const body = buildSessionOpen(
    {
      origin: plan.origin,
      keyId: signer.keyId,
      time,
      after,
      previous: plan.previous,
      attested: plan.attested,
      unattested: plan.unattested,
    },
    signer.privateKey,
  );
  const session = encodeRecord(
    after.hash,
    after.seq + 1,
    time,
    'session.open',
    '{}',
    canonicalJson(body),
  );
  records.push(session);
  const { record, checkpoint } = encodeCheckpoint(
    session,
    plan.origin,
    time,
    signer.keyId,
    signer.privateKey,
  );
  records.push(record);
  return { records, checkpoint, session };
}

/** The writer's state after `applyOpenPlan`. */
export interface OpenedStore {
  state: SegmentState;
  /** The open's checkpoint record: the durable head. */
  head: ChainPoint;
  /** To be anchored (synchronously) before anything else is appended. */
  checkpoint: SignedCheckpoint;
  recovery: (SetAsideResult & { seq: number }) | undefined;
  sessionSeq: number;
}

/**
 * Apply a checked recovery plan: set the unconfirmed tail aside, open the segment to append to
 * (a new one when the last was sealed or lost even its header), and write the `recovery`,
 * `session.open` and checkpoint records, durable before this returns.
 */
export function applyOpenPlan(
  layer: FsLayer,
  dir: string,
  segDir: string,
  plan: OpenPlan,
  now: () => Date,
  signer: { keyId: string; privateKey: KeyObject },
): OpenedStore {
  const { origin, last, keepBytes } = plan;
  const recovery =
    last.size > keepBytes
      ? setAside(layer, dir, last.path, last.segment, keepBytes, last.size)
      : undefined;
  let state: SegmentState = {
    segment: last.segment,
    fd: -1,
    offset: keepBytes,
    firstSeq: plan.segmentFirstSeq,
    records: plan.segmentRecords,
    created: plan.segmentCreated ?? now().getTime(),
    digest: plan.segmentDigest,
  };
  let head = plan.head;
  if (plan.lastType === 'segment.seal') {
    // Crashed between sealing and creating the next segment.
    ({ state, head } = createSegment(
      layer,
      segDir,
      last.segment + 1,
      head,
      origin,
      now(),
      undefined,
    ));
  } else if (keepBytes === 0) {
    // Even the header was torn: rewrite the segment from scratch (the torn bytes are kept).
    layer.unlinkSync(last.path);
    fsyncDirSync(layer, segDir);
    ({ state, head } = createSegment(layer, segDir, last.segment, head, origin, now(), undefined));
  } else {
    state.fd = layer.openSync(last.path, noFollow('r+'));
  }
  const { records, checkpoint, session } = encodeOpenRecords(
    plan,
    head,
    recovery,
    now().toISOString(),
    signer,
  );
  const buf = Buffer.from(records.map((r) => r.line).join(''));
  writeFullySync(layer, state.fd, buf, state.offset);
  layer.fdatasyncSync(state.fd);
  state.offset += buf.length;
  state.digest.update(buf);
  state.records += records.length;
  const end = records[records.length - 1]!;
  return {
    state,
    head: { seq: end.seq, hash: end.hash },
    checkpoint,
    recovery: recovery ? { ...recovery, seq: records[0]!.seq } : undefined,
    sessionSeq: session.seq,
  };
}

/** What an open tells the operator: bytes set aside, records signed as unattested. */
export function openNotices(dir: string, plan: OpenPlan, opened: OpenedStore): StoreNotice[] {
  const notices: StoreNotice[] = [];
  const { recovery } = opened;
  if (recovery) {
    notices.push({
      code: 'RECOVERED_TAIL',
      message: `audit store ${dir}: ${recovery.length} unconfirmed bytes at the end of segment ${plan.last.segment} (${plan.reason}) were moved to ${recovery.file} and a recovery record was written at seq ${recovery.seq}`,
    });
  }
  if (plan.unattested) {
    notices.push({
      code: 'RECOVERED_UNATTESTED',
      message: `audit store ${dir}: records ${plan.unattested.fromSeq}-${plan.unattested.toSeq} were found after the last record the previous writer acknowledged (seq ${plan.attested.seq}); the session.open record at seq ${opened.sessionSeq} signs them as unattested and verify reports them`,
    });
  }
  return notices;
}
