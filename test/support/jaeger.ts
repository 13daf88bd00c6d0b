// Starts the real Jaeger v2 binary (tools/jaeger, built by `pnpm jaeger:build`) for integration
// tests: as the backend (tools/jaeger/config/{memory,badger}.yaml) or as an OpenTelemetry
// Collector running a given config (the shipped collector-config.yaml). Everything listens on
// 127.0.0.1 on free ports; logs go to a temp file whose tail is in every startup error.
//
//   const jaeger = await startJaeger({ storage: 'memory' });
//   afterAll(() => jaeger.dispose());
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getFreePorts } from './free-port.js';
import {
  type FoundSpan,
  findTraces,
  getServices,
  getTrace,
  type JaegerTrace,
  type TraceQuery,
  type WaitForSpansOptions,
  waitForSpans,
} from './jaeger-query.js';
import { keepLogs, ManagedProcess, tcpOpen, waitUntil } from './managed-process.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const JAEGER_BIN = join(REPO_ROOT, 'tools/jaeger/bin/jaeger');
export const JAEGER_CONFIG_DIR = join(REPO_ROOT, 'tools/jaeger/config');
export const COLLECTOR_CONFIG = join(REPO_ROOT, 'collector-config.yaml');

const LOOPBACK = '127.0.0.1';
const START_ATTEMPTS = 3;

export interface StartJaegerOptions {
  /** `badger` keeps data across restart() and kill(). The default value is `memory`. */
  storage?: 'memory' | 'badger';
  /** Badger's directory. The default value is a fresh temp directory, removed by dispose(). */
  dataDir?: string;
  /** How long to wait for readiness. The default value is 60000 (the machine is shared). */
  startTimeoutMs?: number;
  /** Jaeger's log level. The default value is `info`. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

interface ServiceHandle {
  /** The log file of all starts of this process. */
  readonly logFile: string;
  /** The pid while running. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Milliseconds from spawn to ready, for the last start. */
  readonly lastStartupMs: number;
  /** SIGTERM (graceful: Jaeger flushes and closes storage), SIGKILL after 10 s. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL: the crash case. */
  kill(): Promise<void>;
  /** Stops if running, then starts again on the same ports (and data directory) until ready. */
  restart(): Promise<void>;
  /** Stops and removes the temp directories the harness created. Safe in afterAll. */
  dispose(): Promise<void>;
  /** The last lines of the log. */
  logTail(lines?: number): string;
}

export interface JaegerInstance extends ServiceHandle {
  readonly storage: 'memory' | 'badger';
  readonly dataDir: string | undefined;
  /** OTLP/HTTP base URL, e.g. `http://127.0.0.1:41234` (what OTEL_EXPORTER_OTLP_ENDPOINT takes). */
  readonly otlpHttpUrl: string;
  /** `${otlpHttpUrl}/v1/traces` (what OTEL_EXPORTER_OTLP_TRACES_ENDPOINT takes). */
  readonly otlpTracesUrl: string;
  readonly otlpGrpcPort: number;
  /** `127.0.0.1:<otlpGrpcPort>`, e.g. for JAEGER_OTLP_ENDPOINT of the collector config. */
  readonly otlpGrpcEndpoint: string;
  /** Base URL of the query API (and of the UI, when the binary embeds it). */
  readonly queryUrl: string;
  readonly healthUrl: string;
  getServices(): Promise<string[]>;
  findTraces(query: TraceQuery): Promise<JaegerTrace[]>;
  getTrace(traceId: string): Promise<JaegerTrace | undefined>;
  waitForSpans(
    query: TraceQuery,
    predicate: (spans: FoundSpan[]) => boolean,
    options?: WaitForSpansOptions,
  ): Promise<FoundSpan[]>;
}

export interface StartCollectorOptions {
  /** The collector configuration. The default value is the shipped collector-config.yaml. */
  configPath?: string;
  /**
   * Extra environment for the config, e.g. `{ JAEGER_OTLP_ENDPOINT: backend.otlpGrpcEndpoint }`.
   * The harness sets COLLECTOR_OTLP_GRPC_ENDPOINT, COLLECTOR_OTLP_HTTP_ENDPOINT,
   * COLLECTOR_METRICS_HOST and COLLECTOR_METRICS_PORT itself (free loopback ports).
   */
  env?: Record<string, string>;
  /** The default value is 60000. */
  startTimeoutMs?: number;
}

export interface CollectorInstance extends ServiceHandle {
  readonly otlpHttpUrl: string;
  readonly otlpTracesUrl: string;
  readonly otlpGrpcPort: number;
  readonly otlpGrpcEndpoint: string;
  /** The collector's own Prometheus metrics (queue size, refused spans, …). */
  readonly metricsUrl: string;
  /** The agents' metrics (the `metrics` pipeline's Prometheus exporter). */
  readonly agentMetricsUrl: string;
}

function assertBinary(): void {
  if (!existsSync(JAEGER_BIN)) {
    throw new Error(
      `Jaeger binary missing at ${JAEGER_BIN}: run \`pnpm jaeger:build\` (needs Go; \`pnpm test\` runs it in pretest)`,
    );
  }
  // A binary older than the pin would test a Jaeger other than the one go.mod names.
  const built = statSync(JAEGER_BIN).mtimeMs;
  for (const pin of ['go.mod', 'go.sum']) {
    const file = join(REPO_ROOT, 'tools/jaeger', pin);
    if (existsSync(file) && statSync(file).mtimeMs > built) {
      throw new Error(
        `Jaeger binary ${JAEGER_BIN} is older than tools/jaeger/${pin}: run \`pnpm jaeger:build\``,
      );
    }
  }
}

/**
 * The child's environment: the parent's minus anything OpenTelemetry or Jaeger reads, so a
 * variable set for the code under test (OTEL_EXPORTER_OTLP_ENDPOINT, …) never redirects the
 * harness's own processes.
 */
function childEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(OTEL_|JAEGER_|COLLECTOR_)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...vars };
}

function addressInUse(proc: ManagedProcess): boolean {
  return /address already in use/i.test(proc.logTail(60));
}

/**
 * Starts the process `make` builds for fresh free ports and waits for `check`. A port taken by someone
 * else between allocation and bind only costs a retry with fresh ports (first start only:
 * a restart must keep its ports, since clients point at them).
 */
async function startWithRetry(
  make: (ports: number[]) => ManagedProcess,
  portCount: number,
  check: (proc: ManagedProcess, ports: number[]) => Promise<boolean>,
  timeoutMs: number,
): Promise<{ proc: ManagedProcess; ports: number[]; startupMs: number }> {
  for (let attempt = 1; ; attempt++) {
    const ports = await getFreePorts(portCount);
    const proc = make(ports);
    const started = Date.now();
    proc.start();
    try {
      await waitUntil(proc, () => check(proc, ports), 'ready', timeoutMs, 100);
      return { proc, ports, startupMs: Date.now() - started };
    } catch (err) {
      await proc.kill();
      if (attempt < START_ATTEMPTS && addressInUse(proc)) continue;
      throw err;
    }
  }
}

/**
 * The lifecycle half of an instance, shared by Jaeger and the collector: pid and state,
 * stop/kill, restart on the same ports until ready, dispose of the temp directories.
 */
function serviceHandle(
  started: { proc: ManagedProcess; ports: number[]; startupMs: number },
  check: (proc: ManagedProcess, ports: number[]) => Promise<boolean>,
  timeoutMs: number,
  logFile: string,
  cleanup: () => void,
): ServiceHandle {
  const { proc, ports } = started;
  let startupMs = started.startupMs;
  return {
    logFile,
    get pid() {
      return proc.pid;
    },
    get running() {
      return proc.running;
    },
    get lastStartupMs() {
      return startupMs;
    },
    stop: () => proc.stop(),
    kill: () => proc.kill(),
    async restart() {
      await proc.stop();
      const t0 = Date.now();
      proc.start();
      await waitUntil(proc, () => check(proc, ports), 'ready', timeoutMs, 100);
      startupMs = Date.now() - t0;
    },
    async dispose() {
      await proc.stop();
      cleanup();
    },
    logTail: (lines) => proc.logTail(lines),
  };
}

async function jaegerReady(healthUrl: string, queryUrl: string, otlpHttpPort: number) {
  // healthcheckv2 reports StatusOK once every component (receivers included) has started; the
  // query API and the OTLP port are checked too because tests talk to those.
  const health = await fetch(healthUrl, { signal: AbortSignal.timeout(2000) });
  await health.arrayBuffer();
  if (health.status !== 200) return false;
  const services = await fetch(`${queryUrl}/api/services`, { signal: AbortSignal.timeout(2000) });
  await services.arrayBuffer();
  if (services.status !== 200) return false;
  return tcpOpen(otlpHttpPort);
}

/** Starts Jaeger v2 on free loopback ports and resolves once it accepts OTLP and queries. */
export async function startJaeger(options: StartJaegerOptions = {}): Promise<JaegerInstance> {
  assertBinary();
  const storage = options.storage ?? 'memory';
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const workDir = mkdtempSync(join(tmpdir(), `agent-audit-jaeger-${storage}-`));
  const ownedDataDir = storage === 'badger' && options.dataDir === undefined;
  const dataDir =
    storage === 'badger' ? (options.dataDir ?? join(workDir, 'badger')) : options.dataDir;
  const configPath = join(JAEGER_CONFIG_DIR, `${storage}.yaml`);
  const logFile = join(workDir, 'jaeger.log');

  const make = ([grpc, http, query, queryGrpc, health]: number[]) =>
    new ManagedProcess({
      name: `jaeger (${storage})`,
      command: JAEGER_BIN,
      args: ['--config', configPath],
      logFile,
      env: childEnv({
        JAEGER_LISTEN_HOST: LOOPBACK,
        JAEGER_OTLP_GRPC_PORT: String(grpc),
        JAEGER_OTLP_HTTP_PORT: String(http),
        JAEGER_QUERY_HTTP_PORT: String(query),
        JAEGER_QUERY_GRPC_PORT: String(queryGrpc),
        JAEGER_HEALTH_PORT: String(health),
        JAEGER_LOG_LEVEL: options.logLevel ?? 'info',
        ...(dataDir !== undefined ? { JAEGER_BADGER_DIR: dataDir } : {}),
      }),
    });
  const check = (_proc: ManagedProcess, [, http, query, , health]: number[]) =>
    jaegerReady(`http://${LOOPBACK}:${health}/status`, `http://${LOOPBACK}:${query}`, http!);

  const started = await startWithRetry(make, 5, check, timeoutMs).catch((err: unknown) => {
    if (!keepLogs()) rmSync(workDir, { recursive: true, force: true });
    throw err;
  });
  const { proc, ports } = started;
  const [grpcPort, httpPort, queryPort, , healthPort] = ports as [
    number,
    number,
    number,
    number,
    number,
  ];
  const queryUrl = `http://${LOOPBACK}:${queryPort}`;
  const otlpHttpUrl = `http://${LOOPBACK}:${httpPort}`;
  const diagnostics = () => `jaeger log ${logFile}:\n${proc.logTail(20)}`;

  const handle = serviceHandle(started, check, timeoutMs, logFile, () => {
    if (!keepLogs()) rmSync(workDir, { recursive: true, force: true });
    else if (ownedDataDir && dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  const instance: JaegerInstance = Object.assign(handle, {
    storage,
    dataDir,
    otlpHttpUrl,
    otlpTracesUrl: `${otlpHttpUrl}/v1/traces`,
    otlpGrpcPort: grpcPort,
    otlpGrpcEndpoint: `${LOOPBACK}:${grpcPort}`,
    queryUrl,
    healthUrl: `http://${LOOPBACK}:${healthPort}/status`,
    getServices: () => getServices(queryUrl),
    findTraces: (query: TraceQuery) => findTraces(queryUrl, query),
    getTrace: (traceId: string) => getTrace(queryUrl, traceId),
    waitForSpans: (
      query: TraceQuery,
      predicate: (spans: FoundSpan[]) => boolean,
      waitOptions?: WaitForSpansOptions,
    ) => waitForSpans(queryUrl, query, predicate, { diagnostics, ...waitOptions }),
  });
  return instance;
}

async function collectorReady(otlpTracesUrl: string): Promise<boolean> {
  // An empty export travels the whole pipeline's front (receiver → processors) and is answered
  // 200 only once the receiver runs, which the collector starts after exporters and processors.
  const res = await fetch(otlpTracesUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"resourceSpans":[]}',
    signal: AbortSignal.timeout(2000),
  });
  await res.arrayBuffer();
  return res.status === 200;
}

/**
 * Runs the Jaeger binary as an OpenTelemetry Collector with `configPath` (default: the shipped
 * collector-config.yaml), on free loopback ports, and resolves once it accepts OTLP/HTTP.
 */
export async function startCollector(
  options: StartCollectorOptions = {},
): Promise<CollectorInstance> {
  assertBinary();
  const configPath = options.configPath ?? COLLECTOR_CONFIG;
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const workDir = mkdtempSync(join(tmpdir(), 'agent-audit-collector-'));
  const logFile = join(workDir, 'collector.log');

  const make = ([grpc, http, metrics, agentMetrics]: number[]) =>
    new ManagedProcess({
      name: 'collector',
      command: JAEGER_BIN,
      args: ['--config', configPath],
      logFile,
      env: childEnv({
        ...options.env,
        COLLECTOR_OTLP_GRPC_ENDPOINT: `${LOOPBACK}:${grpc}`,
        COLLECTOR_OTLP_HTTP_ENDPOINT: `${LOOPBACK}:${http}`,
        COLLECTOR_METRICS_HOST: LOOPBACK,
        COLLECTOR_METRICS_PORT: String(metrics),
        COLLECTOR_PROMETHEUS_ENDPOINT: `${LOOPBACK}:${agentMetrics}`,
      }),
    });
  const check = (_proc: ManagedProcess, [, http]: number[]) =>
    collectorReady(`http://${LOOPBACK}:${http}/v1/traces`);

  const started = await startWithRetry(make, 4, check, timeoutMs).catch((err: unknown) => {
    if (!keepLogs()) rmSync(workDir, { recursive: true, force: true });
    throw err;
  });
  const [grpcPort, httpPort, metricsPort, agentMetricsPort] = started.ports as [
    number,
    number,
    number,
    number,
  ];
  const otlpHttpUrl = `http://${LOOPBACK}:${httpPort}`;
  const handle = serviceHandle(started, check, timeoutMs, logFile, () => {
    if (!keepLogs()) rmSync(workDir, { recursive: true, force: true });
  });
  return Object.assign(handle, {
    otlpHttpUrl,
    otlpTracesUrl: `${otlpHttpUrl}/v1/traces`,
    otlpGrpcPort: grpcPort,
    otlpGrpcEndpoint: `${LOOPBACK}:${grpcPort}`,
    metricsUrl: `http://${LOOPBACK}:${metricsPort}/metrics`,
    agentMetricsUrl: `http://${LOOPBACK}:${agentMetricsPort}/metrics`,
  });
}
