import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWorkflow, traceToolCall } from '@agent-audit/instrumentation';
import { type AgentAuditHandle, readForwarderCursor, registerAgentAudit } from '@agent-audit/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type FakeCollector,
  type FakeReply,
  startFakeCollector,
} from '../support/fake-collector.js';
import { startAgentLoop } from './fixtures/agent-process.js';
import { storedSpanEnds } from './fixtures/store-spans.js';

// issue 4, RELIABILITY rows 21 and 22, through the real registration, store and forwarder, with
// a scripted collector (the real one cannot answer 429/500/400 or swallow requests on demand).

describe('forwarder against a misbehaving collector', () => {
  let root: string;
  let storeDir: string;
  let fake: FakeCollector;
  let audit: AgentAuditHandle | undefined;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'aa-fwd-faults-'));
    storeDir = join(root, 'store');
  });
  afterEach(async () => {
    await audit?.shutdown();
    audit = undefined;
    await fake?.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function start(script: FakeReply[], fallback: FakeReply = { status: 200 }) {
    fake = await startFakeCollector({ script, fallback });
    audit = registerAgentAudit({
      serviceName: 'faults-agent',
      storeDir,
      trustDir: join(root, 'trust'),
      otlpEndpoint: fake.tracesUrl,
      installExitHandlers: false,
    });
  }

  async function someRuns(runs: number, toolCalls: number): Promise<void> {
    await Promise.all(
      Array.from({ length: runs }, (_, i) =>
        runWorkflow(
          { agentId: 'faults-agent', credentialRef: 'cred-ref:f', input: { i } },
          async () => {
            for (let t = 0; t < toolCalls; t++) {
              await traceToolCall({ toolName: 'step', input: { i, t } }, () => t);
            }
          },
        ),
      ),
    );
    await audit!.processor.forceFlush();
  }

  it('429 and 5xx keep the cursor and back off (honouring Retry-After); every stored span arrives', async () => {
    await start([
      { status: 429, retryAfter: 1 },
      { status: 500 },
      { status: 503 },
      { status: 502 },
    ]);
    await someRuns(5, 4);
    const stored = storedSpanEnds(storeDir);
    const result = await audit!.forwarder!.drain({ timeoutMillis: 60_000 });
    expect(result).toMatchObject({ ok: true, deadLetterSpans: 0 });
    expect(fake.acceptedSpanIds()).toEqual(stored);

    const reqs = fake.requests;
    expect(reqs.slice(0, 5).map((r) => r.answeredStatus)).toEqual([429, 500, 503, 502, 200]);
    // Nothing was acknowledged before the 200, so the cursor replayed from the same place: the
    // first span refused by the 429 is the first span accepted.
    expect(reqs[4]!.spanIds[0]).toBe(reqs[0]!.spanIds[0]);
    // Retry-After: 1 — the next attempt did not come sooner.
    expect(reqs[1]!.receivedAt - reqs[0]!.receivedAt).toBeGreaterThanOrEqual(950);
    expect(readForwarderCursor(storeDir).lastError).toMatch(/answered 502/);
  });

  it('400 moves the batch to the dead-letter file, counts it and goes on', async () => {
    await start([{ status: 400, body: 'bad span' }]);
    await someRuns(3, 3);
    const stored = storedSpanEnds(storeDir);
    const result = await audit!.forwarder!.drain({ timeoutMillis: 60_000 });
    expect(result.ok).toBe(true);
    const rejected = fake.spanIdsAnswered(400);
    expect(rejected.size).toBeGreaterThan(0);
    expect(result.deadLetterSpans).toBe(rejected.size);
    const deadFile = join(storeDir, 'forwarder', 'dead-letter.jsonl');
    expect(existsSync(deadFile)).toBe(true);
    const dead = readFileSync(deadFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ spans: rejected.size, reason: expect.stringContaining('400') });
    // Dead-lettered plus accepted is everything stored; nothing is sent twice.
    const accepted = fake.acceptedSpanIds();
    expect(new Set([...accepted, ...rejected])).toEqual(stored);
    expect([...accepted].filter((id) => rejected.has(id))).toEqual([]);
    const cursor = readForwarderCursor(storeDir);
    expect(cursor).toMatchObject({ deadLetterBatches: 1, deadLetterSpans: rejected.size });
  });

  it('a request hanging on a black hole does not keep a finished agent process alive', async () => {
    fake = await startFakeCollector({ fallback: { blackHole: true } });
    const agent = startAgentLoop('natural', 20, {
      OTEL_SERVICE_NAME: 'natural-exit-agent',
      AGENT_AUDIT_STORE_DIR: storeDir,
      AGENT_AUDIT_TRUST_DIR: join(root, 'trust'),
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: fake.tracesUrl,
    });
    await fake.waitForRequests(1);
    const exit = await agent.exited;
    const exitedAt = Date.now();
    expect(exit.code, agent.output()).toBe(0);
    // The process ended while its request was still unanswered, well before the forwarder's
    // 10 s request timeout would have released a socket that held the event loop (the bound
    // compares with that timeout, not with how fast this machine is).
    expect(exitedAt - fake.requests[0]!.receivedAt).toBeLessThan(9_000);
    expect(fake.requests.every((r) => r.answeredStatus === undefined)).toBe(true);
    // And nothing was lost: every ended span is in the store, for the next start or a drain.
    const stored = storedSpanEnds(storeDir);
    expect(agent.ended().filter((id) => !stored.has(id))).toEqual([]);
  });

  it('a black-hole collector never holds up tool calls; one request in flight; replay after it', async () => {
    await start([], { blackHole: true });
    await someRuns(2, 2);
    await fake.waitForRequests(1);
    // The forwarder is stuck on a request that will never be answered; the agent keeps working.
    await someRuns(20, 10);
    expect(fake.maxInFlight).toBe(1);
    expect(fake.requests).toHaveLength(1);
    const status = await audit!.forwarder!.status();
    expect(status.pendingRecords).toBeGreaterThan(200);

    fake.setFallback({ status: 200 });
    fake.releaseBlackHoles();
    const result = await audit!.forwarder!.drain({ timeoutMillis: 60_000 });
    expect(result.ok).toBe(true);
    expect(fake.acceptedSpanIds()).toEqual(storedSpanEnds(storeDir));
    expect(fake.maxInFlight).toBe(1);
    // Bounded batches: no request carried more than the batch limit of records.
    for (const r of fake.requests) expect(r.spanIds.length).toBeLessThanOrEqual(512);
  });
});
