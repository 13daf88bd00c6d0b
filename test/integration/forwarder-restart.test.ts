import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forwardPending, registerAgentAudit } from '@agent-audit/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startContinuousLoad, until } from '../support/continuous-load.js';
import { type JaegerInstance, startJaeger } from '../support/jaeger.js';
import { flattenSpans } from '../support/jaeger-query.js';
import { startAgentLoop } from './fixtures/agent-process.js';
import { storedSpanEnds } from './fixtures/store-spans.js';

// issue 4, RELIABILITY rows 20 and 23: Jaeger is fed from the store by a persisted cursor, so
// neither a killed agent nor a killed Jaeger loses a stored span; after a drain, Jaeger holds
// exactly the span ids the store holds.

async function jaegerSpanIds(jaeger: JaegerInstance, service: string): Promise<Set<string>> {
  const traces = await jaeger.findTraces({ service, limit: 100_000 });
  return new Set(flattenSpans(traces).map((s) => s.spanId));
}

/** Polls until Jaeger's span ids for `service` equal `expected` (ingestion is asynchronous). */
async function expectJaegerToHold(
  jaeger: JaegerInstance,
  service: string,
  expected: Set<string>,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  let seen = new Set<string>();
  while (Date.now() < deadline) {
    seen = await jaegerSpanIds(jaeger, service);
    if (seen.size >= expected.size) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const missing = [...expected].filter((id) => !seen.has(id));
  const extra = [...seen].filter((id) => !expected.has(id));
  expect({ missing: missing.length, extra: extra.length, expected: expected.size }).toEqual({
    missing: 0,
    extra: 0,
    expected: expected.size,
  });
}

describe('agent killed with SIGKILL mid-run', () => {
  let jaeger: JaegerInstance;
  let root: string;

  beforeAll(async () => {
    jaeger = await startJaeger({ storage: 'memory' });
    root = mkdtempSync(join(tmpdir(), 'aa-fwd-kill-'));
  });
  afterAll(async () => {
    await jaeger?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('loses nothing that had ended: a restart and a drain put every ended span in Jaeger', async () => {
    const service = `killed-agent-${randomUUID().slice(0, 8)}`;
    const env = {
      OTEL_SERVICE_NAME: service,
      AGENT_AUDIT_STORE_DIR: join(root, 'store'),
      AGENT_AUDIT_TRUST_DIR: join(root, 'trust'),
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: jaeger.otlpTracesUrl,
    };
    const agent = startAgentLoop('loop', 0, env);
    await agent.waitFor(() => agent.certainlyDurable().length >= 80, '80 durable tool calls');
    agent.child.kill('SIGKILL');
    expect((await agent.exited).signal).toBe('SIGKILL');
    const durableBeforeKill = agent.certainlyDurable();
    const endedBeforeKill = agent.ended();

    // Restarted: the writer reopens the store (stale lock, torn tail) and its forwarder resumes
    // from the cursor; this short run then exits through process.exit.
    const restarted = startAgentLoop('exit', 5, env);
    expect((await restarted.exited).code, restarted.output()).toBe(7);

    // What the restarted process could not forward before it exited goes with a drain
    // (`agent-audit forward --drain`).
    const drained = await forwardPending({
      storeDir: env.AGENT_AUDIT_STORE_DIR,
      endpoint: jaeger.otlpTracesUrl,
      drain: true,
      timeoutMillis: 60_000,
    });
    expect(drained, JSON.stringify(drained)).toMatchObject({ ok: true, deadLetterSpans: 0 });
    expect(drained.status.pendingRecords).toBe(0);

    const stored = storedSpanEnds(env.AGENT_AUDIT_STORE_DIR);
    expect(durableBeforeKill.filter((id) => !stored.has(id))).toEqual([]);
    for (const id of restarted.ended()) expect(stored.has(id)).toBe(true);
    await expectJaegerToHold(jaeger, service, stored);
    // The store writes a span's end record to the file by the end of the microtask the span
    // ended in (fdatasync is what is grouped); the agent prints `ended` after that, from the
    // tool call's promise, so every span reported ended is in the page cache, which a killed
    // process does not take with it.
    expect(endedBeforeKill.length).toBeGreaterThanOrEqual(80);
    expect(endedBeforeKill.filter((id) => !stored.has(id))).toEqual([]);
  });
});

describe('Jaeger (badger) killed and restarted mid-load', () => {
  let jaeger: JaegerInstance;
  let root: string;
  const service = `jaeger-restart-${randomUUID().slice(0, 8)}`;
  let audit: ReturnType<typeof registerAgentAudit> | undefined;

  beforeAll(async () => {
    jaeger = await startJaeger({ storage: 'badger' });
    root = mkdtempSync(join(tmpdir(), 'aa-fwd-jrestart-'));
  });
  afterEach(async () => {
    await audit?.shutdown();
  });
  afterAll(async () => {
    await jaeger?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('after a drain the span ids in Jaeger equal the span ids in the store', async () => {
    const storeDir = join(root, 'store');
    audit = registerAgentAudit({
      serviceName: service,
      storeDir,
      trustDir: join(root, 'trust'),
      otlpEndpoint: jaeger.otlpTracesUrl,
      installExitHandlers: false,
    });
    // Load keeps running across the whole outage: 8 concurrent workers, runs of 5 tool calls.
    const load = startContinuousLoad({
      agentId: 'load-agent',
      credentialRef: 'cred-ref:load',
      workers: 8,
    });
    const toolSpans = load.toolSpans;
    await until(() => toolSpans() >= 100, '100 tool spans before the kill');
    await jaeger.kill();
    const atKill = toolSpans();
    // The forwarder meets the dead Jaeger while spans keep coming.
    await until(
      async () =>
        (await audit!.forwarder!.status()).consecutiveFailures > 0 && toolSpans() >= atKill + 100,
      'a failed forward and 100 more tool spans during the outage',
    );
    await jaeger.restart();
    const atRestart = toolSpans();
    await until(() => toolSpans() >= atRestart + 100, '100 tool spans after the restart');
    await load.stop();
    await audit.processor.forceFlush();
    const result = await audit.forwarder!.drain({ timeoutMillis: 90_000 });
    expect(result, JSON.stringify(result)).toMatchObject({ ok: true, deadLetterSpans: 0 });

    const stored = storedSpanEnds(storeDir);
    expect(stored.size).toBeGreaterThanOrEqual(toolSpans());
    await expectJaegerToHold(jaeger, service, stored);
    const status = await audit.forwarder!.status();
    expect(status.pendingRecords).toBe(0);
    // The outage really hit the forwarder: its last error is the refused connection.
    expect(status.lastError).toMatch(/request to .* failed|answered 5/);
  });
});
