/**
 * issue 16 §3, `node benchmarks/dist/run.js kafka`: `kafka_pipeline_vs_direct_ratio` = spans/s
 * confirmed in Jaeger through collector → Kafka → ingester / spans/s through direct OTLP into
 * Jaeger, same load, same storage (Badger) on both sides. Real processes: Apache Kafka 4 (KRaft,
 * tools/kafka, installed by tools/kafka/install.mjs), the Jaeger binary as collector
 * (tools/jaeger/config/kafka-collector.yaml), as ingester (kafka-ingester.yaml) and as the
 * direct Jaeger (badger.yaml). A run's clock starts at the first POST and stops when Jaeger's
 * query API returns every span id of the run. Arms alternate; the median of the rounds is
 * reported.
 *
 * The benchmarks project compiles only benchmarks/src, so this file has its own small launcher
 * instead of test/support/kafka.ts (which does the same with restarts and more checks).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

type Figures = Record<string, number | string>;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const JAEGER_BIN = join(REPO_ROOT, 'tools/jaeger/bin/jaeger');
const CONFIG_DIR = join(REPO_ROOT, 'tools/jaeger/config');
const KAFKA_DIR = join(REPO_ROOT, 'tools/kafka');
const LOOPBACK = '127.0.0.1';
const SPANS = Number(process.env.KAFKA_BENCH_SPANS ?? 20_000);
const SPANS_PER_TRACE = 10;
const SPANS_PER_REQUEST = 500;
const CONCURRENCY = 4;
const ROUNDS = Number(process.env.KAFKA_BENCH_ROUNDS ?? 5);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

interface Proc {
  child: ChildProcess;
  logFile: string;
  alive(): boolean;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function launch(command: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Proc {
  const fd = openSync(logFile, 'a');
  const child = spawn(command, args, { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  live.add(child);
  let alive = true;
  const exited = once(child, 'exit').then(() => {
    alive = false;
    live.delete(child);
  });
  return {
    child,
    logFile,
    alive: () => alive,
    async stop() {
      if (!alive) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitFor(proc: Proc, what: string, check: () => Promise<boolean> | boolean) {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (!proc.alive() || Date.now() > deadline) {
      const tail = readFileSync(proc.logFile, 'utf8').split('\n').slice(-20).join('\n');
      throw new Error(
        `kafka bench: ${what} ${proc.alive() ? 'not ready in time' : 'exited'}:\n${tail}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function cleanEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(OTEL_|JAEGER_|COLLECTOR_|KAFKA_)/.test(k)) env[k] = v;
  }
  return { ...env, ...vars };
}

async function httpOk(url: string, init?: RequestInit): Promise<boolean> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(3000) });
  await res.arrayBuffer();
  return res.status === 200;
}

async function startKafka(dir: string): Promise<{ proc: Proc; bootstrap: string }> {
  execFileSync(process.execPath, [join(KAFKA_DIR, 'install.mjs'), '--quiet'], { stdio: 'inherit' });
  const [broker, controller] = [await freePort(), await freePort()];
  const props = join(dir, 'server.properties');
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@${LOOPBACK}:${controller}`,
      `listeners=PLAINTEXT://${LOOPBACK}:${broker},CONTROLLER://${LOOPBACK}:${controller}`,
      `advertised.listeners=PLAINTEXT://${LOOPBACK}:${broker}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      `log.dirs=${join(dir, 'kafka-data')}`,
      'offsets.topic.replication.factor=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'num.partitions=3',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n'),
  );
  const log4j = join(dir, 'log4j2.yaml');
  writeFileSync(
    log4j,
    'Configuration:\n  Appenders:\n    Console:\n      name: STDOUT\n      PatternLayout:\n        pattern: "%p %m%n"\n  Loggers:\n    Root:\n      level: WARN\n      AppenderRef:\n        - ref: STDOUT\n    Logger:\n      - name: kafka.server.KafkaRaftServer\n        level: INFO\n',
  );
  const cp = `${join(KAFKA_DIR, 'libs')}/*`;
  execFileSync(
    'java',
    [
      '-cp',
      cp,
      'kafka.tools.StorageTool',
      'format',
      '--cluster-id',
      'agentAuditBenchKafka1',
      '--config',
      props,
    ],
    {
      stdio: 'ignore',
    },
  );
  const logFile = join(dir, 'kafka.log');
  const proc = launch(
    'java',
    [
      '-Xmx512m',
      '-Xms512m',
      `-Dlog4j2.configurationFile=${log4j}`,
      '-cp',
      cp,
      'kafka.Kafka',
      props,
    ],
    { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    logFile,
  );
  await waitFor(
    proc,
    'Kafka',
    () => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('Kafka Server started'),
  );
  return { proc, bootstrap: `${LOOPBACK}:${broker}` };
}

/** The Jaeger binary with `config`; `otlp` says whether it has an OTLP receiver to wait for. */
async function startJaegerWith(
  dir: string,
  name: string,
  config: string,
  extra: Record<string, string>,
  otlp: boolean,
): Promise<{ proc: Proc; queryUrl: string; tracesUrl: string }> {
  const [grpc, http, query, queryGrpc, health] = await Promise.all(
    [1, 2, 3, 4, 5].map(() => freePort()),
  );
  const proc = launch(
    JAEGER_BIN,
    ['--config', join(CONFIG_DIR, config)],
    cleanEnv({
      JAEGER_LISTEN_HOST: LOOPBACK,
      JAEGER_OTLP_GRPC_PORT: String(grpc),
      JAEGER_OTLP_HTTP_PORT: String(http),
      JAEGER_QUERY_HTTP_PORT: String(query),
      JAEGER_QUERY_GRPC_PORT: String(queryGrpc),
      JAEGER_HEALTH_PORT: String(health),
      JAEGER_LOG_LEVEL: 'warn',
      JAEGER_BADGER_DIR: join(dir, `${name}-badger`),
      ...extra,
    }),
    join(dir, `${name}.log`),
  );
  const queryUrl = `http://${LOOPBACK}:${query}`;
  const tracesUrl = `http://${LOOPBACK}:${http}/v1/traces`;
  await waitFor(
    proc,
    name,
    async () =>
      (await httpOk(`http://${LOOPBACK}:${health}/status`)) &&
      (await httpOk(`${queryUrl}/api/services`)) &&
      (!otlp ||
        (await httpOk(tracesUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"resourceSpans":[]}',
        }))),
  );
  return { proc, queryUrl, tracesUrl };
}

async function startKafkaCollector(
  dir: string,
  bootstrap: string,
): Promise<{ proc: Proc; tracesUrl: string }> {
  const [grpc, http, metrics] = [await freePort(), await freePort(), await freePort()];
  const proc = launch(
    JAEGER_BIN,
    ['--config', join(CONFIG_DIR, 'kafka-collector.yaml')],
    cleanEnv({
      KAFKA_BROKERS: bootstrap,
      COLLECTOR_OTLP_GRPC_ENDPOINT: `${LOOPBACK}:${grpc}`,
      COLLECTOR_OTLP_HTTP_ENDPOINT: `${LOOPBACK}:${http}`,
      COLLECTOR_METRICS_HOST: LOOPBACK,
      COLLECTOR_METRICS_PORT: String(metrics),
    }),
    join(dir, 'collector.log'),
  );
  const tracesUrl = `http://${LOOPBACK}:${http}/v1/traces`;
  await waitFor(proc, 'collector', () =>
    httpOk(tracesUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"resourceSpans":[]}',
    }),
  );
  return { proc, tracesUrl };
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** The load: SPANS spans in traces of SPANS_PER_TRACE, as OTLP/JSON bodies of SPANS_PER_REQUEST. */
function makeLoad(service: string): { bodies: string[]; ids: Set<string>; lastTraces: string[] } {
  const ids = new Set<string>();
  const bodies: string[] = [];
  // The last trace of each request: the collector writes a request as one Kafka message, which
  // the ingester stores in one pass, so its last trace being queryable is a cheap progress probe.
  const lastTraces: string[] = [];
  const now = BigInt(Date.now()) * 1_000_000n;
  for (let first = 0; first < SPANS; first += SPANS_PER_REQUEST) {
    const spans: Record<string, unknown>[] = [];
    let traceId = hex(16);
    for (let i = first; i < Math.min(SPANS, first + SPANS_PER_REQUEST); i++) {
      if (i % SPANS_PER_TRACE === 0) traceId = hex(16);
      const spanId = hex(8);
      ids.add(spanId);
      spans.push({
        traceId,
        spanId,
        name: 'execute_tool bench',
        kind: 1,
        startTimeUnixNano: (now + BigInt(i) * 1000n).toString(),
        endTimeUnixNano: (now + BigInt(i) * 1000n + 500_000n).toString(),
        attributes: [
          { key: 'gen_ai.tool.name', value: { stringValue: `tool_${i % 7}` } },
          {
            key: 'workflow.run_id',
            value: { stringValue: `run-${Math.floor(i / SPANS_PER_TRACE)}` },
          },
          { key: 'decision.outcome', value: { stringValue: 'allow' } },
        ],
        status: { code: 1 },
      });
    }
    lastTraces.push(traceId);
    bodies.push(
      JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
            scopeSpans: [{ scope: { name: '@agent-audit/instrumentation' }, spans }],
          },
        ],
      }),
    );
  }
  return { bodies, ids, lastTraces };
}

async function spansIn(queryUrl: string, service: string): Promise<number> {
  const url = `${queryUrl}/api/traces?service=${encodeURIComponent(service)}&limit=${SPANS}&lookback=1h`;
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  const body = (await res.json()) as { data?: Array<{ spans: Array<{ spanID: string }> }> };
  const seen = new Set<string>();
  for (const trace of body.data ?? []) for (const s of trace.spans) seen.add(s.spanID);
  return seen.size;
}

/** Posts the load (retrying a non-200 like a forwarder) and times it until Jaeger has every span. */
async function traceStored(queryUrl: string, traceId: string): Promise<boolean> {
  const res = await fetch(`${queryUrl}/api/traces/${traceId}`, {
    signal: AbortSignal.timeout(30_000),
  });
  await res.arrayBuffer();
  return res.status === 200;
}

async function runArm(
  tracesUrl: string,
  queryUrl: string,
  service: string,
): Promise<{ confirmed: number; accepted: number }> {
  const { bodies, ids, lastTraces } = makeLoad(service);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        for (let attempt = 0; ; attempt++) {
          const res = await fetch(tracesUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            signal: AbortSignal.timeout(60_000),
          });
          await res.arrayBuffer();
          if (res.status === 200) break;
          if (attempt > 20) throw new Error(`kafka bench: ${tracesUrl} answered ${res.status}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    }),
  );
  const acceptedSeconds = (performance.now() - started) / 1000;
  // Probe cheaply (one small trace per request) so polling does not compete with ingestion,
  // then confirm with the full span count, which must equal the load's.
  const deadline = Date.now() + 300_000;
  let pending = [...new Set(lastTraces)];
  for (;;) {
    if (Date.now() > deadline) throw new Error(`kafka bench: ${service} not all in Jaeger in time`);
    const found = await Promise.all(pending.map((id) => traceStored(queryUrl, id)));
    pending = pending.filter((_, i) => !found[i]);
    if (pending.length === 0 && (await spansIn(queryUrl, service)) >= ids.size) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    confirmed: ids.size / ((performance.now() - started) / 1000),
    accepted: ids.size / acceptedSeconds,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runKafkaBench(): Promise<Figures> {
  if (!existsSync(JAEGER_BIN))
    throw new Error(`Jaeger binary missing at ${JAEGER_BIN}: run \`pnpm jaeger:build\``);
  const dir = mkdtempSync(join(tmpdir(), 'agent-audit-bench-kafka-'));
  const procs: Proc[] = [];
  try {
    const kafka = await startKafka(dir);
    procs.push(kafka.proc);
    const direct = await startJaegerWith(dir, 'direct', 'badger.yaml', {}, true);
    procs.push(direct.proc);
    const ingester = await startJaegerWith(
      dir,
      'ingester',
      'kafka-ingester.yaml',
      { KAFKA_BROKERS: kafka.bootstrap },
      false,
    );
    procs.push(ingester.proc);
    const collector = await startKafkaCollector(dir, kafka.bootstrap);
    procs.push(collector.proc);
    // Warm-up through both paths (topic creation, consumer group join, JIT).
    await runArm(collector.tracesUrl, ingester.queryUrl, 'warmup-pipeline');
    await runArm(direct.tracesUrl, direct.queryUrl, 'warmup-direct');
    const directRates: number[] = [];
    const pipelineRates: number[] = [];
    const acceptRates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      directRates.push(
        (await runArm(direct.tracesUrl, direct.queryUrl, `direct-${round}`)).confirmed,
      );
      const pipeline = await runArm(collector.tracesUrl, ingester.queryUrl, `pipeline-${round}`);
      pipelineRates.push(pipeline.confirmed);
      acceptRates.push(pipeline.accepted);
    }
    const directRate = median(directRates);
    const pipelineRate = median(pipelineRates);
    return {
      kafka_bench_spans_per_round: SPANS,
      kafka_bench_rounds: ROUNDS,
      kafka_direct_spans_per_s: Math.round(directRate),
      kafka_pipeline_spans_per_s: Math.round(pipelineRate),
      // Spans/s the collector answered 200 for (Kafka acknowledged), before the ingester's lag.
      kafka_pipeline_accepted_spans_per_s: Math.round(median(acceptRates)),
      kafka_pipeline_vs_direct_ratio: Number((pipelineRate / directRate).toFixed(3)),
    };
  } finally {
    for (const proc of procs.reverse()) await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
