import type { RawRecord } from '@agent-audit/store';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../src/alert.js';
import { Detector } from '../src/detector.js';
import { type ToolCall, toolCallOf } from '../src/tool-call.js';
import { watchConfigFrom } from '../src/watch-config.js';
import { type CallSpec, normalCalls, plantedCalls, toolCallEntry } from './support/tool-records.js';

const ORIGIN = 'a'.repeat(32);
const T0 = Date.parse('2026-03-01T10:00:00Z');

function callOf(spec: CallSpec, seq: number): ToolCall {
  const entry = toolCallEntry(spec);
  const record: RawRecord = {
    seq,
    type: 'span.end',
    payloadJson: JSON.stringify(entry.payload),
    segment: 1,
    offset: 0,
    length: 0,
  };
  const call = toolCallOf(record, ORIGIN, '/stores/a');
  if (!call) throw new Error('not a tool call');
  return call;
}

function run(detector: Detector, specs: CallSpec[], seq0 = 1): Alert[] {
  return specs.flatMap((s, i) => detector.observe(callOf(s, seq0 + i)));
}

const config = () => watchConfigFrom({ stores: ['/stores/a'] }, undefined, '/');

describe('detector', () => {
  it('reads the features of a tool call record', () => {
    const call = callOf(
      {
        runId: 'r1',
        atMs: T0,
        durationMs: 12.5,
        outputSize: 99,
        signals: ['path_traversal'],
        denialType: 'network',
      },
      7,
    );
    expect(call).toMatchObject({
      seq: 7,
      runId: 'r1',
      agentId: 'support-agent',
      tool: 'lookup_order',
      tenant: 'acme',
      durationMs: 12.5,
      outputSize: 99,
      inputShape: 'shape:order',
      inputSignals: ['path_traversal'],
      denialType: 'network',
      timeMs: T0,
    });
  });

  it('reads a stored (canonical) payload without parsing all of it, exactly as a full parse does', () => {
    const entry = toolCallEntry({
      runId: 'r"]},{',
      atMs: T0,
      durationMs: 3,
      signals: ['sql_injection'],
      denialType: 'policy',
      decision: 'stop',
      reason: 'a ],"droppedAttributesCount":9 b',
    });
    const payload = entry.payload as {
      resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[];
    };
    const span = payload.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    const canonical = (value: unknown): string =>
      Array.isArray(value)
        ? `[${value.map(canonical).join(',')}]`
        : value !== null && typeof value === 'object'
          ? `{${Object.keys(value)
              .sort()
              .map(
                (k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`,
              )
              .join(',')}}`
          : JSON.stringify(value);
    const read = (p: unknown) =>
      toolCallOf(
        {
          seq: 1,
          type: 'span.end',
          payloadJson: typeof p === 'string' ? p : canonical(p),
          segment: 1,
          offset: 0,
          length: 0,
        },
        ORIGIN,
        '/s',
      );
    const plain = read(JSON.stringify(payload)); // not canonical: parsed whole
    const stored = read(payload); // canonical, no droppedAttributesCount: bracket scan
    span.droppedAttributesCount = 0;
    span.events = [
      {
        name: 'x',
        timeUnixNano: '1',
        attributes: [{ key: 'tool.name', value: { stringValue: 'other' } }],
      },
    ];
    const sdk = read(payload); // canonical with droppedAttributesCount, events after it
    expect(plain).toMatchObject({
      runId: 'r"]},{',
      decision: 'stop',
      denialType: 'policy',
      durationMs: 3,
      error: true,
      timeMs: T0,
    });
    expect(stored).toEqual(plain);
    expect(sdk).toEqual(plain);
  });

  it('raises none on normal traffic and every pattern on the planted anomalies, with their run ids', () => {
    const d = new Detector(config());
    const normal = normalCalls(T0, 600);
    expect(run(d, normal)).toEqual([]);
    const { calls, runs } = plantedCalls(T0 + 600_000);
    // flush: the end of the stream judges the held execution_time alert (no traffic after it).
    const alerts = [...run(d, calls, 10_000), ...d.flush()];
    for (const [pattern, runId] of Object.entries(runs)) {
      const hits = alerts.filter((a) => a.pattern === pattern);
      expect(hits.length, pattern).toBeGreaterThan(0);
      expect(
        hits.some((a) => a.run_ids.includes(runId)),
        pattern,
      ).toBe(true);
    }
    // Every alert names its evidence and how to investigate it.
    for (const a of alerts) {
      expect(a.explain).toMatch(/^agent-audit explain planted-/);
      expect(a.agent_id).toBe('support-agent');
      expect(a.id).toMatch(/^[0-9a-f]{32}$/);
    }
    // Only the planted runs are evidence (the flood's window also holds normal calls: no normal
    // run is named first).
    for (const a of alerts) expect(a.run_ids[0]).toMatch(/^planted-/);
  });

  it('counts a loop that starts late in a window busier than the per-window run bound', () => {
    const d = new Detector(config());
    const specs: CallSpec[] = [];
    // Ten learning windows of 10 s, each with 300 runs of one call (more runs than the
    // detector tracks per window), then a window where a run loops after 300 others started.
    for (let w = 0; w < 11; w++) {
      for (let i = 0; i < 300; i++) {
        specs.push({ runId: `w${w}-r${i}`, atMs: T0 + w * 10_000 + i * 20 });
      }
    }
    for (let i = 0; i < 60; i++) {
      specs.push({ runId: 'run-loop', atMs: T0 + 10 * 10_000 + 6_100 + i * 10 });
    }
    specs.sort((a, b) => a.atMs - b.atMs);
    const alerts = run(d, specs);
    const loops = alerts.filter((a) => a.pattern === 'call_frequency');
    expect(loops.map((a) => a.run_ids[0])).toEqual(['run-loop']);
  });

  it('learns before it alerts: nothing during the learning period but policy and a burst of denials', () => {
    const d = new Detector(config());
    // The planted calls but the flood: fewer calls per (agent, tool) than learning.min_calls.
    const calls = plantedCalls(T0).calls.filter((c) => c.runId !== 'planted-call-frequency');
    expect(calls.length).toBeLessThan(30);
    const alerts = run(d, calls);
    expect(new Set(alerts.map((a) => a.pattern))).toEqual(
      new Set(['policy', 'permission_denials']),
    );
  });

  it('is deterministic: the same calls from a restored state give the same alerts and ids', () => {
    const d1 = new Detector(config());
    run(d1, normalCalls(T0, 300));
    const saved = JSON.parse(JSON.stringify(d1.state()));
    const { calls } = plantedCalls(T0 + 300_000);
    const a1 = [...run(d1, calls, 5000), ...d1.flush()].map((a) => a.id);
    const d2 = new Detector(config(), saved);
    const a2 = [...run(d2, calls, 5000), ...d2.flush()].map((a) => a.id);
    expect(a2).toEqual(a1);
    expect(a1.length).toBeGreaterThan(5);
  });

  it('a stalled process (no call ends for 400 ms, then every call in flight ends slow) is no execution_time alert; a slow tool among live traffic is', () => {
    const d = new Detector(config());
    const normal = normalCalls(T0, 600, 3, 30); // ~100 calls/s
    expect(run(d, normal)).toEqual([]);
    const stallStart = T0 + 600 * 30 + 100;
    const stalled = Array.from({ length: 8 }, (_, i) => ({
      runId: `run-stalled-${i}`,
      atMs: stallStart + 400 + i / 10,
      durationMs: 400 + i,
    }));
    const notices: { code: string; message: string }[] = [];
    const observe = (calls: CallSpec[], seq0: number) =>
      calls.flatMap((c, i) => d.observe(callOf(c, seq0 + i), notices));
    // The stalled calls, then live traffic again: it settles them as a stall.
    const after = normalCalls(stallStart + 500, 100, 3, 30, 'run-after');
    expect([...observe(stalled, 5000), ...observe(after, 6000)]).toEqual([]);
    expect(notices.filter((n) => n.code === 'HOST_STALL')).toHaveLength(8);
    expect(notices[0]!.message).toMatch(/the process stalled, not the tool/);
    // One call that really took 1.5 s while others kept ending: raised once traffic settles it.
    const slow = { runId: 'run-slow', atMs: stallStart + 500 + 100 * 30 + 5, durationMs: 1500 };
    const later = normalCalls(slow.atMs + 10, 60, 3, 30, 'run-later');
    const raised = [...observe([slow], 7000), ...observe(later, 7100)];
    expect(raised.map((a) => [a.pattern, a.run_ids[0]])).toEqual([['execution_time', 'run-slow']]);
    // A slow call after which traffic stopped is raised at the end (flush), not dropped.
    const last = { runId: 'run-last', atMs: later.at(-1)!.atMs + 2000, durationMs: 1500 };
    expect(observe([last], 8000)).toEqual([]);
    expect(d.flush().map((a) => a.run_ids[0])).toEqual(['run-last']);
  });

  it('a clock that jumps back or forward raises no alert, only a notice', () => {
    const d = new Detector(config());
    run(d, normalCalls(T0, 300));
    const notices: { code: string; message: string }[] = [];
    const back = normalCalls(T0 - 3_600_000, 60, 3, 1000, 'run-back');
    const alerts = back.flatMap((s, i) => d.observe(callOf(s, 2000 + i), notices));
    const forward = normalCalls(T0 + 7_200_000, 60, 3, 1000, 'run-fwd');
    alerts.push(...forward.flatMap((s, i) => d.observe(callOf(s, 3000 + i), notices)));
    expect(alerts).toEqual([]);
    expect(notices.map((n) => n.message).join('\n')).toContain('went back');
    expect(
      notices.some(
        (n) => n.code === 'CLOCK_JUMP' && /went back 3[89]\d\d(\.\d+)? s/.test(n.message),
      ),
    ).toBe(true);
    // And it still sees a flood after the jumps.
    const flood = plantedCalls(T0 + 7_300_000).calls.filter(
      (c) => c.runId === 'planted-call-frequency',
    );
    expect(run(d, flood, 9000).map((a) => a.pattern)).toContain('call_frequency');
  });
});
