import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { constants as osConstants, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The bench's own small launcher for the real Jaeger (tools/jaeger, in-memory config). The test
// harness in test/support/jaeger.ts does the same with more care (retries, restarts, Badger), but
// the benchmarks project compiles only benchmarks/src (tsc rootDir), so it cannot import it.

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const JAEGER_BIN = join(REPO_ROOT, 'tools/jaeger/bin/jaeger');
const MEMORY_CONFIG = join(REPO_ROOT, 'tools/jaeger/config/memory.yaml');
const LOOPBACK = '127.0.0.1';

export interface JaegerProcess {
  /** `http://127.0.0.1:P/v1/traces`. */
  readonly otlpTracesUrl: string;
  /** Base URL of the query API. */
  readonly queryUrl: string;
  /** SIGTERM, SIGKILL after 5 s; removes the log directory. Idempotent. */
  dispose(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function ready(healthUrl: string, queryUrl: string, tracesUrl: string): Promise<boolean> {
  try {
    const health = await fetch(healthUrl, { signal: AbortSignal.timeout(2000) });
    await health.arrayBuffer();
    if (health.status !== 200) return false;
    const services = await fetch(`${queryUrl}/api/services`, { signal: AbortSignal.timeout(2000) });
    await services.arrayBuffer();
    if (services.status !== 200) return false;
    const otlp = await fetch(tracesUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"resourceSpans":[]}',
      signal: AbortSignal.timeout(2000),
    });
    await otlp.arrayBuffer();
    return otlp.status === 200;
  } catch {
    return false;
  }
}

/** Starts Jaeger v2 with in-memory storage on free loopback ports; resolves once it is ready. */
export async function startJaegerProcess(timeoutMs = 60_000): Promise<JaegerProcess> {
  if (!existsSync(JAEGER_BIN)) {
    throw new Error(`Jaeger binary missing at ${JAEGER_BIN}: run \`pnpm jaeger:build\``);
  }
  const [grpc, http, query, queryGrpc, health] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const workDir = mkdtempSync(join(tmpdir(), 'agent-audit-bench-jaeger-'));
  const logFile = join(workDir, 'jaeger.log');
  const logFd = openSync(logFile, 'a');
  const env: NodeJS.ProcessEnv = {};
  // OTEL_* or JAEGER_* meant for the code under test must not redirect Jaeger itself.
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(OTEL_|JAEGER_|COLLECTOR_)/.test(k)) env[k] = v;
  }
  const child: ChildProcess = spawn(JAEGER_BIN, ['--config', MEMORY_CONFIG], {
    env: {
      ...env,
      JAEGER_LISTEN_HOST: LOOPBACK,
      JAEGER_OTLP_GRPC_PORT: String(grpc),
      JAEGER_OTLP_HTTP_PORT: String(http),
      JAEGER_QUERY_HTTP_PORT: String(query),
      JAEGER_QUERY_GRPC_PORT: String(queryGrpc),
      JAEGER_HEALTH_PORT: String(health),
      JAEGER_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const exited = once(child, 'exit');
  let alive = true;
  void exited.then(() => {
    alive = false;
  });
  // A bench that dies (an exception, Ctrl-C, a kill of its pid alone) must not leave Jaeger
  // or its log directory behind. A signal nobody else handles ends the process through
  // process.exit (128 + signal number, the shell's convention), so that other 'exit' cleanups
  // (the bench's temp directories) run too; a re-raised signal would skip them.
  const killOnExit = () => {
    child.kill('SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    child.kill('SIGKILL');
    if (process.listenerCount(signal) === 1) process.exit(128 + (osConstants.signals[signal] ?? 0));
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const removeHandlers = () => {
    process.removeListener('exit', killOnExit);
    for (const signal of signals) process.removeListener(signal, onSignal);
  };
  process.on('exit', killOnExit);
  for (const signal of signals) process.on(signal, onSignal);

  let disposed: Promise<void> | undefined;
  const dispose = () => {
    disposed ??= (async () => {
      removeHandlers();
      if (alive) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(workDir, { recursive: true, force: true });
    })();
    return disposed;
  };

  const queryUrl = `http://${LOOPBACK}:${query}`;
  const otlpTracesUrl = `http://${LOOPBACK}:${http}/v1/traces`;
  const deadline = Date.now() + timeoutMs;
  while (!(await ready(`http://${LOOPBACK}:${health}/status`, queryUrl, otlpTracesUrl))) {
    if (!alive || Date.now() > deadline) {
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
      await dispose();
      throw new Error(`Jaeger ${alive ? 'not ready in time' : 'exited'}; log tail:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { otlpTracesUrl, queryUrl, dispose };
}
