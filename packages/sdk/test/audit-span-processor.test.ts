import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AuditRefusedError,
  getRunContext,
  looksLikeSecret,
  runWorkflow,
  setAuditHooks,
  traceToolCall,
} from '@agent-audit/instrumentation';
import { AuditStore, verifyStore } from '@agent-audit/store';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AuditSpanProcessor,
  MANDATORY_ATTRIBUTES,
  VIOLATION_MISSING_MANDATORY,
} from '../src/audit-span-processor.js';
import type { AuditRecordEntry, AuditRecordSink } from '../src/internal-types.js';
import { spanEndPayload, spanStartPayload } from '../src/otlp-json.js';
import { SpanRedactor } from '../src/span-redactor.js';
import { attrsOf, readSegments, spanOf, type TempStore, tempStore } from './helpers.js';

const RUN = {
  agentId: 'support-agent',
  agentName: 'Support',
  triggerPrincipal: 'user:ann@example.com',
  credentialRef: 'cred-ref-run-1',
  tenantId: 'tenant-a',
  input: { ticket: 42 },
};

describe('AuditSpanProcessor with a real store', () => {
  const contextManager = new AsyncLocalStorageContextManager();
  let ts: TempStore;
  let store: AuditStore;
  let processor: AuditSpanProcessor;
  let provider: TracerProvider;

  beforeAll(() => {
    contextManager.enable();
    context.setGlobalContextManager(contextManager);
  });
  afterAll(() => {
    context.disable();
  });

  function setup(
    options: { failClosed?: boolean; sink?: AuditRecordSink; redactor?: SpanRedactor } = {},
  ) {
    processor = new AuditSpanProcessor({
      sink: options.sink ?? store,
      failClosed: options.failClosed ?? false,
      ...(options.redactor ? { redactor: options.redactor } : {}),
    });
    provider = new TracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [processor] });
    trace.disable();
    trace.setGlobalTracerProvider(provider);
    setAuditHooks(
      options.failClosed ? { beforeToolCall: (span) => processor.startRecordDurable(span) } : {},
    );
  }

  beforeEach(() => {
    ts = tempStore();
    store = AuditStore.open({ dir: ts.storeDir, trustDir: ts.trustDir, onNotice: () => undefined });
    setup();
  });

  afterEach(async () => {
    await provider.shutdown();
    await store.close();
    trace.disable();
    setAuditHooks(undefined);
    ts.cleanup();
  });

  it('writes intent and end records for a run and its tool calls, all four mandatory fields on each', async () => {
    const runId = await runWorkflow(RUN, async (run) => {
      await traceToolCall({ toolName: 'search', input: { q: 'refund' } }, async () => ['a', 'b']);
      await traceToolCall(
        { toolName: 'send_email', input: { to: 'x' }, credentialRef: 'cred-mail' },
        () => 'sent',
      );
      return run.runId;
    });
    await processor.forceFlush();
    const records = readSegments(ts.storeDir);
    const starts = records.filter((r) => r.type === 'span.start');
    const ends = records.filter((r) => r.type === 'span.end');
    expect(starts.map((r) => r.tags.tool ?? 'run')).toEqual(['run', 'search', 'send_email']);
    expect(ends).toHaveLength(3);

    for (const end of ends) {
      const span = spanOf(end);
      const attrs = attrsOf(span);
      for (const name of MANDATORY_ATTRIBUTES)
        expect(attrs[name], `${span.name} ${name}`).toBeTruthy();
      expect(attrs['workflow.run_id']).toBe(runId);
      expect(attrs['audit.violation']).toBeUndefined();
      expect(end.tags).toMatchObject({
        run: runId,
        agent: 'support-agent',
        principal: 'user:ann@example.com',
        tenant: 'tenant-a',
        trace: span.traceId,
        span: span.spanId,
        status: 'ok',
      });
      // Every intent record comes before the end record of the same span.
      const start = starts.find((s) => s.tags.span === span.spanId);
      expect(start).toBeDefined();
      expect(start!.seq).toBeLessThan(end.seq);
    }
    const email = ends.find((r) => r.tags.tool === 'send_email')!;
    expect(attrsOf(spanOf(email))['credential.ref']).toBe('cred-mail');
    const search = ends.find((r) => r.tags.tool === 'search')!;
    const runEnd = ends.find((r) => r.tags.tool === undefined)!;
    expect(search.tags.parent).toBe(spanOf(runEnd).spanId);
    expect(processor.getStats()).toMatchObject({ startRecords: 3, endRecords: 3, violations: 0 });
  });

  it('stores exactly the OTLP payloads of the spans, with parts serialized once spliced in, and verifies', async () => {
    const exporter = new InMemorySpanExporter();
    await provider.shutdown();
    processor = new AuditSpanProcessor({ sink: store });
    provider = new TracerProvider({
      sampler: new AlwaysOnSampler(),
      spanProcessors: [processor, new SimpleSpanProcessor({ exporter })],
    });
    trace.disable();
    trace.setGlobalTracerProvider(provider);
    // Repeated calls (the run's attribution and equal inputs recur: spliced texts) and changing
    // ones (new texts for the same keys), a failing call, and a span of another library.
    await runWorkflow(RUN, async () => {
      for (let i = 0; i < 6; i++) {
        const input = { q: i % 2 === 0 ? 'refund' : `order ${i}` };
        await traceToolCall({ toolName: i < 3 ? 'search' : 'lookup', input }, () => ({ i }));
      }
      await traceToolCall({ toolName: 'search', input: { q: 'x' } }, () => {
        throw new Error('tool failed');
      }).catch(() => undefined);
      trace
        .getTracer('http-like')
        .startSpan('GET', { attributes: { n: 1.5 } })
        .end();
    });
    await processor.forceFlush();
    const records = readSegments(ts.storeDir);
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(9);
    for (const span of spans) {
      const id = span.spanContext().spanId;
      const end = records.find((r) => r.type === 'span.end' && r.tags.span === id);
      expect(end?.payload, span.name).toStrictEqual(spanEndPayload(span));
      const start = records.find((r) => r.type === 'span.start' && r.tags.span === id);
      // Audit spans only have an intent record: the span as it started, its attributes the
      // first ones of the ended span (the end adds output.hash, output.size, error status …).
      if (start !== undefined) {
        const ended = spanStartPayload(span);
        const started = start.payload as typeof ended;
        expect(started).toStrictEqual({
          ...ended,
          attributes: ended.attributes.slice(0, started.attributes.length),
        });
        expect(started.attributes.length).toBeGreaterThanOrEqual(8);
      }
    }
    await store.checkpoint();
    const report = await verifyStore({ dir: ts.storeDir, trustDir: ts.trustDir });
    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
  });

  it('stamps run attribution on every span inside a run, also spans it did not create', async () => {
    const tracer = trace.getTracer('http-like');
    await runWorkflow(RUN, async () => {
      await new Promise((r) => setTimeout(r, 1));
      tracer.startActiveSpan('GET', (span) => {
        span.end();
      });
    });
    tracer.startSpan('outside').end();
    await processor.forceFlush();
    const ends = readSegments(ts.storeDir).filter((r) => r.type === 'span.end');
    const get = attrsOf(spanOf(ends.find((r) => spanOf(r).name === 'GET')!));
    expect(get).toMatchObject({
      'workflow.run_id': expect.any(String),
      'agent.id': 'support-agent',
      'trigger.principal': 'user:ann@example.com',
      'credential.ref': 'cred-ref-run-1',
      'tenant.id': 'tenant-a',
    });
    const outside = attrsOf(spanOf(ends.find((r) => spanOf(r).name === 'outside')!));
    expect(outside['workflow.run_id']).toBeUndefined();
    // Only workflow and tool spans carry a pre-exec record.
    expect(readSegments(ts.storeDir).filter((r) => r.type === 'span.start')).toHaveLength(1);
  });

  it('marks a tool call without a run as a violation and counts the warning once per kind', async () => {
    await traceToolCall({ toolName: 'orphan', input: 1 }, () => 1);
    await traceToolCall({ toolName: 'orphan', input: 2 }, () => 2);
    await processor.forceFlush();
    const ends = readSegments(ts.storeDir).filter((r) => r.type === 'span.end');
    expect(ends).toHaveLength(2);
    for (const end of ends) {
      const attrs = attrsOf(spanOf(end));
      expect(attrs['audit.violation']).toEqual(
        expect.arrayContaining(['no_run_context', VIOLATION_MISSING_MANDATORY]),
      );
      expect(attrs['audit.missing']).toEqual(['agent.id', 'workflow.run_id', 'credential.ref']);
      expect(end.tags.run).toBeUndefined();
    }
    const stats = processor.getStats();
    expect(stats.violations).toBe(2);
    expect(stats.warnings['missing:workflow.run_id']).toBe(2);
    expect(stats.warnings['missing:agent.id']).toBe(2);
  });

  it('fail-closed: the tool runs only after its intent record is on disk', async () => {
    await provider.shutdown();
    setup({ failClosed: true });
    let seenOnDisk = false;
    await runWorkflow(RUN, () =>
      traceToolCall({ toolName: 'db_write', input: { id: 7 } }, ({ span }) => {
        const spanId = span.spanContext().spanId;
        seenOnDisk = readSegments(ts.storeDir).some(
          (r) => r.type === 'span.start' && r.tags.span === spanId,
        );
      }),
    );
    expect(seenOnDisk).toBe(true);
  });

  it('fail-closed: a store that cannot write refuses the tool call before it runs', async () => {
    await provider.shutdown();
    setup({ failClosed: true });
    await store.close();
    let ran = false;
    await expect(
      runWorkflow(RUN, () =>
        traceToolCall({ toolName: 'wire_money', input: { amount: 10 } }, () => {
          ran = true;
        }),
      ),
    ).rejects.toBeInstanceOf(AuditRefusedError);
    expect(ran).toBe(false);
    await processor.forceFlush();
    expect(processor.getStats().failedRecords).toBeGreaterThan(0);
  });

  it('fail-closed: a failure inside the processor refuses the tool call too', async () => {
    await provider.shutdown();
    class BrokenRedactor extends SpanRedactor {
      override redactSpan(): number {
        throw new Error('scanner crashed');
      }
    }
    setup({ failClosed: true, redactor: new BrokenRedactor() });
    let ran = false;
    await expect(
      runWorkflow(RUN, () =>
        traceToolCall({ toolName: 'wire_money', input: { amount: 10 } }, () => {
          ran = true;
        }),
      ),
    ).rejects.toBeInstanceOf(AuditRefusedError);
    expect(ran).toBe(false);
    expect(processor.getStats().internalErrors).toBeGreaterThan(0);
  });

  it('never throws into the agent when the sink throws or rejects, and counts the loss', async () => {
    await provider.shutdown();
    let calls = 0;
    const broken: AuditRecordSink = {
      append(_entry: AuditRecordEntry) {
        calls++;
        if (calls % 2 === 0) throw new Error('disk on fire');
        return Promise.reject(new Error('ENOSPC'));
      },
      flushSync() {},
    };
    setup({ sink: broken });
    const out = await runWorkflow(RUN, () =>
      traceToolCall({ toolName: 'search', input: 1 }, () => 'still works'),
    );
    expect(out).toBe('still works');
    await processor.forceFlush();
    const stats = processor.getStats();
    expect(stats.failedRecords).toBe(calls);
    expect(stats.warnings['append-failed']).toBe(calls);
  });

  it('redacts secrets before either record is written; counts, never values, are recorded', async () => {
    const apiKey = `sk-${'x'.repeat(20)}${'A1b2'.repeat(5)}`;
    const bearer = `Bearer ${'t0k3n'.repeat(8)}`;
    const jwt = `eyJhbGciOiJIUzI1NiJ9.${'eyJzdWIiOiIxMjM0In0'}.${'s1gnatur3'.repeat(3)}`;
    await runWorkflow(RUN, () =>
      traceToolCall(
        { toolName: 'http_call', input: { url: 'x' }, reason: `use key ${apiKey} now` },
        ({ span }) => {
          span.addEvent('request', { 'http.request.header.authorization': bearer });
          span.setStatus({ code: SpanStatusCode.ERROR, message: `rejected ${jwt}` });
          span.setAttribute('note', 'mail bob.smith@example.org about it');
        },
      ),
    );
    await processor.forceFlush();
    const bytes = readdirSync(join(ts.storeDir, 'segments'))
      .map((f) => readFileSync(join(ts.storeDir, 'segments', f), 'utf8'))
      .join('');
    for (const secret of [apiKey, bearer, jwt, 'bob.smith@example.org']) {
      expect(bytes.includes(secret), secret).toBe(false);
    }
    const end = readSegments(ts.storeDir).find(
      (r) => r.type === 'span.end' && r.tags.tool === 'http_call',
    )!;
    const attrs = attrsOf(spanOf(end));
    expect(attrs['tool.reason']).toContain('[REDACTED:');
    expect(attrs['audit.redactions']).toBeGreaterThanOrEqual(4);
    expect(attrs['audit.redaction_kinds']).toEqual(expect.arrayContaining(['email']));
    // Identity attributes stay queryable: the principal is not masked as personal data.
    expect(attrs['trigger.principal']).toBe('user:ann@example.com');
    expect(attrs['input.hash']).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(end.tags.status).toBe('error');
  });

  it('refuses a credential.ref that is really a secret, whoever set it', async () => {
    // A high-entropy token with no known prefix (mixed case and digits, as real tokens are).
    let token = '';
    while (!looksLikeSecret(token)) {
      token = randomBytes(30).toString('base64url').replace(/[-_]/g, '');
    }
    const tracer = trace.getTracer('user-code');
    await runWorkflow(RUN, async () => {
      tracer
        .startSpan('db call', { attributes: { 'credential.ref': `ghp_${'a1B2c3'.repeat(6)}` } })
        .end();
      await traceToolCall({ toolName: 'leaky', input: 1 }, ({ span }) => {
        span.setAttribute('credential.ref', token);
      });
    });
    await processor.forceFlush();
    const bytes = readSegments(ts.storeDir)
      .map((r) => JSON.stringify(r))
      .join('\n');
    expect(bytes).not.toContain(token);
    expect(bytes).not.toContain('a1B2c3a1B2c3');
    const ends = readSegments(ts.storeDir).filter((r) => r.type === 'span.end');
    for (const name of ['db call', 'execute_tool leaky']) {
      const attrs = attrsOf(spanOf(ends.find((r) => spanOf(r).name === name)!));
      expect(attrs['credential.ref']).toBe('[REDACTED:credential_ref]');
      expect(attrs['audit.violation']).toEqual(
        expect.arrayContaining(['credential_ref_looks_like_secret']),
      );
    }
    const tool = attrsOf(spanOf(ends.find((r) => spanOf(r).name === 'execute_tool leaky')!));
    expect(tool['audit.missing']).toEqual(['credential.ref']);
  });

  it('attributes each of many interleaved runs only to itself', async () => {
    const runIds = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        runWorkflow({ ...RUN, agentId: `agent-${i}` }, async (run) => {
          for (let t = 0; t < 5; t++) {
            await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 3)));
            await traceToolCall({ toolName: `tool-${t}`, input: { i, t } }, async () => {
              await new Promise((r) => setImmediate(r));
              return getRunContext()?.runId;
            });
          }
          return run.runId;
        }),
      ),
    );
    await processor.forceFlush();
    const ends = readSegments(ts.storeDir).filter((r) => r.type === 'span.end');
    expect(ends).toHaveLength(12 * 6);
    const runSpanIds = new Map<string, string>();
    for (const r of ends) if (r.tags.tool === undefined) runSpanIds.set(r.tags.run!, r.tags.span!);
    for (const [i, runId] of runIds.entries()) {
      const mine = ends.filter((r) => r.tags.run === runId);
      expect(mine).toHaveLength(6);
      for (const r of mine) {
        expect(r.tags.agent).toBe(`agent-${i}`);
        if (r.tags.tool) expect(r.tags.parent).toBe(runSpanIds.get(runId));
      }
    }
  });
});
