import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readForwarderCursor } from '@agent-audit/forwarder';
import { forwardPending } from '@agent-audit/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CollectorInstance, JAEGER_CONFIG_DIR, startCollector } from '../support/jaeger.js';
import {
  type IngesterInstance,
  type KafkaInstance,
  startIngester,
  startKafka,
} from '../support/kafka.js';
import { buildTraceRequest, postTraces } from '../support/otlp-json.js';
import { type AgentProcess, startAgentLoop } from './fixtures/agent-process.js';
import { storedSpanEnds } from './fixtures/store-spans.js';

// issue 16 §1: the fleet's durable transport. Agents' forwarders → collector
// (tools/jaeger/config/kafka-collector.yaml: OTLP in, `kafka` exporter out, no in-memory queue,
// acks=all) → a real Apache Kafka 4 broker (KRaft, from Maven Central) → ingester
// (kafka-ingester.yaml: `kafka` receiver, offsets marked after the write) → Jaeger's storage.
// The broker is started once for this file; it and the ingester are killed with SIGKILL and
// restarted mid-load, and after a drain Jaeger holds exactly the span ids the stores hold.

const COLLECTOR_CONFIG = join(JAEGER_CONFIG_DIR, 'kafka-collector.yaml');
const AGENTS = 3;
/** Tool calls each agent completes between two steps of the scenario. */
const STEP = 30;

describe('fleet pipeline: collector → Kafka → ingester → Jaeger', () => {
  let kafka: KafkaInstance;
  let ingester: IngesterInstance;
  let collector: CollectorInstance;
  let root: string;
  const agents: AgentProcess[] = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'aa-kafka-'));
    kafka = await startKafka();
    ingester = await startIngester({ bootstrap: kafka.bootstrap });
    collector = await startCollector({
      configPath: COLLECTOR_CONFIG,
      env: { KAFKA_BROKERS: kafka.bootstrap },
    });
  }, 240_000);

  afterAll(async () => {
    for (const agent of agents) agent.child.kill('SIGKILL');
    await collector?.dispose();
    await ingester?.dispose();
    await kafka?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  }, 120_000);

  async function eachAgentAdvances(what: string, calls = STEP): Promise<void> {
    const marks = agents.map((a) => a.ended().length);
    await Promise.all(
      agents.map((a, i) => a.waitFor(() => a.ended().length >= marks[i]! + calls, what, 120_000)),
    );
  }

  it('answers 200 only for what Kafka acknowledged: with the broker down an export is refused', async () => {
    const up = buildTraceRequest({ serviceName: 'kafka-ack-probe', spans: [{ name: 'up' }] });
    expect((await postTraces(collector.otlpTracesUrl, up.body, 30_000)).status).toBe(200);
    await expect
      .poll(async () => (await ingester.spans('kafka-ack-probe')).map((s) => s.spanId), {
        timeout: 60_000,
        interval: 500,
      })
      .toEqual([up.spans[0]!.spanId]);

    await kafka.kill();
    const down = buildTraceRequest({ serviceName: 'kafka-ack-probe', spans: [{ name: 'down' }] });
    // No sending queue: the receiver waits for the produce call, which the idempotent acks=all
    // producer keeps retrying while no broker leads the partition. The collector must not
    // answer 200 for a batch only this process holds: the sender times out (as a forwarder's
    // request does, leaving its cursor where it was) or gets an error.
    const refused = await postTraces(collector.otlpTracesUrl, down.body, 15_000).then(
      (r) => `HTTP ${r.status}`,
      (err: unknown) => (err instanceof Error ? err.name : String(err)),
    );
    expect(refused).not.toBe('HTTP 200');
    expect(refused).toMatch(/TimeoutError|HTTP 5\d\d/);
    await kafka.restart();
    // The sender tries the same batch again, as the forwarder does from its store: now 200, and
    // Jaeger holds each span id once (a retried batch may reach Kafka twice; ids repeat, spans
    // do not multiply).
    // Right after the restart the producer may still be reconnecting (503 then); like the
    // forwarder, retry until 200.
    await expect
      .poll(
        async () =>
          (await postTraces(collector.otlpTracesUrl, down.body, 15_000).catch(() => undefined))
            ?.status,
        { timeout: 90_000, interval: 1000 },
      )
      .toBe(200);
    await expect
      .poll(
        async () => (await ingester.spans('kafka-ack-probe')).map((s) => s.operationName).sort(),
        {
          timeout: 60_000,
          interval: 500,
        },
      )
      .toEqual(['down', 'up']);
  }, 240_000);

  it('agents under load lose nothing across a broker kill and an ingester kill: Jaeger = stores', async () => {
    const services: string[] = [];
    const storeDirs: string[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const service = `fleet-agent-${i}`;
      const storeDir = join(root, `host-${i}`, 'store');
      services.push(service);
      storeDirs.push(storeDir);
      agents.push(
        startAgentLoop('loop', 0, {
          OTEL_SERVICE_NAME: service,
          AGENT_AUDIT_STORE_DIR: storeDir,
          AGENT_AUDIT_TRUST_DIR: join(root, `host-${i}`, 'trust'),
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.otlpTracesUrl,
          // A run of five tool calls every ~50 ms per agent: a steady load through Kafka whose
          // volume stays bounded on a slow machine (unpaced, one agent wrote 100k+ spans during
          // a long outage, more than Jaeger's query answered within the test's window).
          AGENT_LOOP_PAUSE_MS: '50',
        }),
      );
    }
    await eachAgentAdvances('tool calls before the broker kill');

    const outageStart = new Date().toISOString();
    await kafka.kill();
    await eachAgentAdvances('tool calls while the broker is down');
    // The outage reaches every agent: the collector holds its request open (or answers 5xx), the
    // forwarder's request times out (10 s), counts as an error and is retried; the first failure
    // of the streak is in its cursor file. A forwarder whose request deadline was lost (Node 20
    // collected AbortSignal.timeout inside AbortSignal.any) hung here without an error.
    await expect
      .poll(
        () => storeDirs.map((dir) => (readForwarderCursor(dir).lastErrorAt ?? '') >= outageStart),
        { timeout: 90_000, interval: 1000 },
      )
      .toEqual(storeDirs.map(() => true));
    await kafka.restart();
    await eachAgentAdvances('tool calls after the broker restart');

    await ingester.kill();
    await eachAgentAdvances('tool calls while the ingester is down');
    await ingester.restart();
    await eachAgentAdvances('tool calls after the ingester restart');

    // The agent hosts go away abruptly (SIGKILL: nothing is flushed on the way out); what their
    // forwarders had not sent goes with a drain (`agent-audit forward --drain`) from the stores.
    for (const agent of agents) agent.child.kill('SIGKILL');
    for (const agent of agents) await agent.exited;
    for (const storeDir of storeDirs) {
      const drained = await forwardPending({
        storeDir,
        endpoint: collector.otlpTracesUrl,
        drain: true,
        timeoutMillis: 120_000,
      });
      expect(drained, JSON.stringify(drained)).toMatchObject({ ok: true, deadLetterSpans: 0 });
      expect(drained.status.pendingRecords).toBe(0);
    }

    for (let i = 0; i < AGENTS; i++) {
      const stored = storedSpanEnds(storeDirs[i]!);
      expect(stored.size).toBeGreaterThanOrEqual(5 * STEP);
      for (const id of agents[i]!.ended()) expect(stored.has(id)).toBe(true);
      let seen = new Set<string>();
      let queryError = '';
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        // A slow answer from the query API (a loaded machine) is retried, not a failure.
        seen = await ingester.spans(services[i]!).then(
          (spans) => new Set(spans.map((s) => s.spanId)),
          (err: unknown) => {
            queryError = String(err);
            return seen;
          },
        );
        if (seen.size >= stored.size) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      const missing = [...stored].filter((id) => !seen.has(id));
      const extra = [...seen].filter((id) => !stored.has(id));
      expect(
        { service: services[i], missing: missing.length, extra: extra.length },
        `last query error: ${queryError || 'none'}`,
      ).toEqual({
        service: services[i],
        missing: 0,
        extra: 0,
      });
    }
  }, 600_000);
});
