// Starts a real Apache Kafka broker (4.1.1, KRaft: one process is broker and controller) from the
// jars tools/kafka/install.mjs fetched from Maven Central, on the machine's Java 17+, for the fleet
// tests and the Kafka bench arm; and the fleet's Jaeger ingester (tools/jaeger with
// config/kafka-ingester.yaml). Everything listens on 127.0.0.1 on free ports; logs go to temp
// files whose tail is in every startup error.
//
//   const kafka = await startKafka();
//   await kafka.kill(); await kafka.restart();   // crash and recovery on the same log dir
//   afterAll(() => kafka.dispose());
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getFreePorts } from './free-port.js';
import { JAEGER_BIN, JAEGER_CONFIG_DIR, REPO_ROOT } from './jaeger.js';
import { type FoundSpan, findTraces, flattenSpans } from './jaeger-query.js';
import { keepLogs, ManagedProcess, tcpOpen, waitUntil } from './managed-process.js';

export const KAFKA_DIR = join(REPO_ROOT, 'tools/kafka');
const KAFKA_LIBS = join(KAFKA_DIR, 'libs');
const LOOPBACK = '127.0.0.1';
/** The topic of tools/jaeger/config/kafka-*.yaml unless KAFKA_TOPIC says otherwise. */
export const SPANS_TOPIC = 'agent_audit_spans';

/** Runs tools/kafka/install.mjs (a no-op when the pinned jars are in place). */
export function ensureKafkaInstalled(): void {
  try {
    execFileSync(process.execPath, [join(KAFKA_DIR, 'install.mjs'), '--quiet'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? String(err);
    throw new Error(
      `Kafka is not installed in ${KAFKA_LIBS} and tools/kafka/install.mjs failed: ${stderr.trim()}`,
    );
  }
}

export interface KafkaInstance {
  /** `127.0.0.1:<port>`: what KAFKA_BROKERS takes. */
  readonly bootstrap: string;
  readonly logDir: string;
  readonly logFile: string;
  readonly running: boolean;
  /** SIGKILL: the crash case (no clean shutdown, the log is recovered on the next start). */
  kill(): Promise<void>;
  /** Starts again on the same ports and log dir; resolves once the broker serves again. */
  restart(): Promise<void>;
  /** Stops the broker and removes its temp directory. Safe in afterAll. */
  dispose(): Promise<void>;
  logTail(lines?: number): string;
}

export interface StartKafkaOptions {
  /** The default value is 120000 (a JVM on a shared 2-core machine). */
  startTimeoutMs?: number;
  /** The broker's heap. The default value is `512m`. */
  heap?: string;
}

const LOG4J2 = `Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.server.KafkaRaftServer
        level: INFO
`;

/** Formats a fresh KRaft log dir and starts a single-node broker+controller on free ports. */
export async function startKafka(options: StartKafkaOptions = {}): Promise<KafkaInstance> {
  ensureKafkaInstalled();
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  const workDir = mkdtempSync(join(tmpdir(), 'agent-audit-kafka-'));
  const logDir = join(workDir, 'data');
  const logFile = join(workDir, 'kafka.log');
  const [brokerPort, controllerPort] = (await getFreePorts(2)) as [number, number];
  const properties = join(workDir, 'server.properties');
  writeFileSync(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@${LOOPBACK}:${controllerPort}`,
      `listeners=PLAINTEXT://${LOOPBACK}:${brokerPort},CONTROLLER://${LOOPBACK}:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://${LOOPBACK}:${brokerPort}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name=PLAINTEXT',
      `log.dirs=${logDir}`,
      // One node: every internal topic has one replica. Production: 3 and min.insync 2.
      'offsets.topic.replication.factor=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'num.partitions=3',
      'auto.create.topics.enable=true',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n'),
  );
  const log4j = join(workDir, 'log4j2.yaml');
  writeFileSync(log4j, LOG4J2);
  const classpath = `${KAFKA_LIBS}/*`;
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  if (process.env.JAVA_HOME) env.JAVA_HOME = process.env.JAVA_HOME;

  try {
    execFileSync(
      'java',
      [
        '-cp',
        classpath,
        'kafka.tools.StorageTool',
        'format',
        '--cluster-id',
        'agentAuditTestKafka01',
        '--config',
        properties,
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' },
    );
  } catch (err) {
    if (!keepLogs()) rmSync(workDir, { recursive: true, force: true });
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(
      `kafka: formatting ${logDir} with kafka.tools.StorageTool failed (is Java 17+ on PATH? ` +
        `run \`node tools/kafka/install.mjs --force\`): ${e.stdout ?? ''}${e.stderr ?? String(err)}`,
    );
  }

  const proc = new ManagedProcess({
    name: 'kafka',
    command: 'java',
    args: [
      `-Xmx${options.heap ?? '512m'}`,
      `-Xms${options.heap ?? '512m'}`,
      '-XX:+UseG1GC',
      `-Dlog4j2.configurationFile=${log4j}`,
      '-cp',
      classpath,
      'kafka.Kafka',
      properties,
    ],
    env,
    logFile,
  });
  const startedLines = () =>
    existsSync(logFile)
      ? readFileSync(logFile, 'utf8').split('Kafka Server started').length - 1
      : 0;
  const startOnce = async () => {
    const before = startedLines();
    proc.start();
    await waitUntil(
      proc,
      async () => startedLines() > before && (await tcpOpen(brokerPort)),
      'ready (log line `Kafka Server started`)',
      timeoutMs,
    );
  };
  try {
    await startOnce();
  } catch (err) {
    await proc.kill();
    if (!keepLogs()) rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
  return {
    bootstrap: `${LOOPBACK}:${brokerPort}`,
    logDir,
    logFile,
    get running() {
      return proc.running;
    },
    kill: () => proc.kill(),
    async restart() {
      await proc.stop(30_000);
      await startOnce();
    },
    async dispose() {
      await proc.stop(30_000);
      if (!keepLogs()) rmSync(workDir, { recursive: true, force: true });
    },
    logTail: (lines) => proc.logTail(lines),
  };
}

export interface IngesterInstance {
  /** Base URL of the query API served by the ingester (Badger is one process's directory). */
  readonly queryUrl: string;
  readonly logFile: string;
  readonly running: boolean;
  kill(): Promise<void>;
  restart(): Promise<void>;
  dispose(): Promise<void>;
  logTail(lines?: number): string;
  /** Every span of `service` in storage (each span id once). */
  spans(service: string): Promise<FoundSpan[]>;
}

export interface StartIngesterOptions {
  bootstrap: string;
  topic?: string;
  groupId?: string;
  startTimeoutMs?: number;
}

/** Starts the Jaeger binary with tools/jaeger/config/kafka-ingester.yaml on free ports. */
export async function startIngester(options: StartIngesterOptions): Promise<IngesterInstance> {
  if (!existsSync(JAEGER_BIN)) {
    throw new Error(`Jaeger binary missing at ${JAEGER_BIN}: run \`pnpm jaeger:build\``);
  }
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const workDir = mkdtempSync(join(tmpdir(), 'agent-audit-ingester-'));
  const logFile = join(workDir, 'ingester.log');
  const [query, queryGrpc, health] = (await getFreePorts(3)) as [number, number, number];
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(OTEL_|JAEGER_|COLLECTOR_|KAFKA_)/.test(key)) env[key] = value;
  }
  Object.assign(env, {
    KAFKA_BROKERS: options.bootstrap,
    KAFKA_TOPIC: options.topic ?? SPANS_TOPIC,
    KAFKA_GROUP_ID: options.groupId ?? 'agent-audit-ingester',
    JAEGER_LISTEN_HOST: LOOPBACK,
    JAEGER_QUERY_HTTP_PORT: String(query),
    JAEGER_QUERY_GRPC_PORT: String(queryGrpc),
    JAEGER_HEALTH_PORT: String(health),
    JAEGER_BADGER_DIR: join(workDir, 'badger'),
  });
  const proc = new ManagedProcess({
    name: 'ingester',
    command: JAEGER_BIN,
    args: ['--config', join(JAEGER_CONFIG_DIR, 'kafka-ingester.yaml')],
    env,
    logFile,
  });
  const queryUrl = `http://${LOOPBACK}:${query}`;
  const ready = async () => {
    const res = await fetch(`http://${LOOPBACK}:${health}/status`, {
      signal: AbortSignal.timeout(2000),
    });
    await res.arrayBuffer();
    if (res.status !== 200) return false;
    const services = await fetch(`${queryUrl}/api/services`, {
      signal: AbortSignal.timeout(2000),
    });
    await services.arrayBuffer();
    return services.status === 200;
  };
  const startOnce = async () => {
    proc.start();
    await waitUntil(proc, ready, 'ready', timeoutMs);
  };
  try {
    await startOnce();
  } catch (err) {
    if (!keepLogs()) rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
  return {
    queryUrl,
    logFile,
    get running() {
      return proc.running;
    },
    kill: () => proc.kill(),
    async restart() {
      await proc.stop();
      await startOnce();
    },
    async dispose() {
      await proc.stop();
      if (!keepLogs()) rmSync(workDir, { recursive: true, force: true });
    },
    logTail: (lines) => proc.logTail(lines),
    async spans(service: string) {
      const traces = await findTraces(queryUrl, { service, limit: 1_000_000 });
      const seen = new Map<string, FoundSpan>();
      for (const span of flattenSpans(traces)) seen.set(span.spanId, span);
      return [...seen.values()];
    },
  };
}
