import { describe, expect, it } from 'vitest';
import { renderTrail } from '../src/commands/trail.js';
import { runTimeline } from '../src/run-timeline.js';
import { demoRun, spanEndPayload, spanStartPayload } from './support/otlp-fixtures.js';

function records() {
  const { ended, neverEnded } = demoRun();
  let seq = 0;
  // Store order is end order (children end before parents), not timeline order.
  const out = [...ended]
    .reverse()
    .map((spec) => ({ seq: ++seq, type: 'span.end', payload: spanEndPayload(spec) }));
  out.push({ seq: ++seq, type: 'span.start', payload: spanStartPayload(neverEnded) });
  // A started span that did end: its intent must not duplicate the ended span.
  out.push({ seq: ++seq, type: 'span.start', payload: spanStartPayload(ended[2]!) });
  out.push({ seq: ++seq, type: 'checkpoint', payload: { size: 3 } });
  return out;
}

describe('runTimeline', () => {
  it('orders spans parent-first by start time, across processes, with depth', () => {
    const spans = runTimeline(records());
    expect(spans.map((s) => `${s.depth}:${s.name}`)).toEqual([
      '0:invoke_agent Support Agent',
      '1:chat scripted-1',
      '1:execute_tool search_kb',
      '1:execute_tool db_update',
      '1:execute_tool send_email',
      '1:approval send_email',
      '1:execute_tool send_email',
      '1:execute_tool delete_account',
      '1:POST /tasks',
      '2:execute_tool fetch_doc',
      '1:execute_tool refund',
    ]);
  });

  it('decodes process, attribution, hashes, status and duration from OTLP/JSON', () => {
    const spans = runTimeline(records());
    const db = spans.find((s) => s.tool === 'db_update')!;
    expect(db).toMatchObject({
      service: 'orchestrator',
      pid: 4242,
      agent_id: 'support-agent',
      principal: 'user:456',
      credential_ref: 'cred:db-writer',
      decision: 'allow',
      input_hash: `sha256:${'4'.repeat(64)}`,
      kind: 'internal',
      status: 'unset',
      duration_ms: 60,
      incomplete: false,
    });
    expect(db.start).toBe('2026-11-20T09:30:00.200Z');
    const sub = spans.find((s) => s.tool === 'fetch_doc')!;
    expect(sub).toMatchObject({ service: 'sub-agent', pid: 5151, agent_id: 'research-agent' });
    const stopped = spans.find((s) => s.tool === 'delete_account')!;
    expect(stopped).toMatchObject({ status: 'error', error_type: 'PolicyStop', decision: 'stop' });
    expect(spans.find((s) => s.name === 'POST /tasks')!.kind).toBe('server');
  });

  it('shows a started span with no end as incomplete instead of dropping it', () => {
    const refund = runTimeline(records()).find((s) => s.tool === 'refund')!;
    expect(refund).toMatchObject({
      incomplete: true,
      status: 'incomplete',
      end: null,
      duration_ms: null,
    });
    expect(refund.seq).toBeGreaterThan(0);
  });

  it('keeps spans whose parent is missing, as roots, and survives a parent cycle', () => {
    const { ended } = demoRun();
    const orphan = { ...ended[3]!, parentSpanId: 'ffffffffffffffff' };
    const a = { ...ended[1]!, spanId: 'c000000000000001', parentSpanId: 'c000000000000002' };
    const b = { ...ended[2]!, spanId: 'c000000000000002', parentSpanId: 'c000000000000001' };
    const spans = runTimeline(
      [orphan, a, b].map((spec, i) => ({
        seq: i + 1,
        type: 'span.end',
        payload: spanEndPayload(spec),
      })),
    );
    expect(spans).toHaveLength(3);
    expect(spans.find((s) => s.span_id === orphan.spanId)!.depth).toBe(0);
  });

  it('ignores garbage payloads rather than throwing', () => {
    const spans = runTimeline([
      { seq: 1, type: 'span.end', payload: null },
      {
        seq: 2,
        type: 'span.end',
        payload: { resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'x' }] }] }] },
      },
      { seq: 3, type: 'span.start', payload: 'nope' },
    ]);
    expect(spans).toEqual([]);
  });
});

describe('renderTrail', () => {
  it('prints times of day, or full times when the run crosses midnight UTC', () => {
    const { ended } = demoRun('run-m', Date.UTC(2026, 10, 20, 23, 59, 59, 500));
    const spans = runTimeline(
      ended.map((spec, i) => ({ seq: i + 1, type: 'span.end', payload: spanEndPayload(spec) })),
    );
    const text = renderTrail('run-m', spans, 'store');
    expect(text).toMatch(/^2026-11-20 23:59:59\.500 {2}orchestrator\[4242\]/m);
    expect(text).toMatch(/^2026-11-21 00:00:00\.100 /m);
    const sameDay = runTimeline(
      demoRun('run-d', Date.UTC(2026, 10, 20, 9, 0, 0)).ended.map((spec, i) => ({
        seq: i + 1,
        type: 'span.end',
        payload: spanEndPayload(spec),
      })),
    );
    expect(renderTrail('run-d', sameDay, 'store')).toMatch(/^09:00:00\.000 {2}orchestrator/m);
  });
});
