/**
 * `pnpm --silent loadtest`: drives N audited workflow runs through the real registration
 * (`registerAgentAudit`), WORM store and forwarder, then prints one JSON line on stdout.
 * Progress goes to stderr. See benchmarks/README.md for the Jaeger kill/restart walkthrough.
 *
 *   pnpm --silent loadtest --runs 200 --tool-calls 20 --concurrency 16 --principal user:456
 *   pnpm --silent loadtest --drain-only --store DIR [--endpoint URL] [--verify-jaeger QUERY_URL]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { forwardPending, registerAgentAudit } from '@agent-audit/sdk';
import { runScenarioLoadtest } from './anomaly-loadtest.js';
import { checkJaeger } from './jaeger-check.js';
import { readStoredSpans } from './stored-spans.js';
import { quantile, runWorkload } from './workload.js';

const USAGE = `usage:
  pnpm --silent loadtest --runs N --tool-calls M --concurrency C --principal P
                         [--store DIR] [--endpoint URL] [--service NAME] [--drain-timeout-s S]
  pnpm --silent loadtest --drain-only --store DIR [--endpoint URL] [--drain-timeout-s S]
                         [--verify-jaeger QUERY_URL]
  pnpm --silent loadtest --scenario anomalies|normal [--runs N] [--concurrency C] [--store DIR]
                         (labelled anomaly workload + agent-audit watch; see benchmarks/README.md)

  --runs N             workflow runs to execute (positive integer)
  --tool-calls M       tool calls per run (positive integer)
  --concurrency C      runs in flight at once (positive integer)
  --principal P        trigger.principal of every run, e.g. user:456
  --store DIR          audit store directory (default: $AGENT_AUDIT_STORE_DIR, else a new
                       temp directory, kept and printed so it can be drained later)
  --endpoint URL       OTLP/HTTP traces URL (default: as the SDK resolves it:
                       $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, $OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces,
                       http://localhost:4318/v1/traces)
  --service NAME       service.name (default: $OTEL_SERVICE_NAME, else agent-audit-loadtest)
  --drain-timeout-s S  how long the final drain may retry (default: 10; 0 = one pass)
  --drain-only         no load: forward what the store holds after the forwarder's cursor
                       (exit 0 once all is acknowledged, 1 otherwise)
  --verify-jaeger URL  with --drain-only: then ask Jaeger's query API (e.g.
                       http://localhost:16686) for every stored span id (exit 1 if any is missing)

stdout: one JSON line. stderr: progress. Exit 0 = done (see drain_ok for the forwarding),
1 = failed, 2 = usage error.`;

class UsageError extends Error {}

interface LoadArgs {
  mode: 'load';
  runs: number;
  toolCalls: number;
  concurrency: number;
  principal: string;
  store: string | undefined;
  endpoint: string | undefined;
  service: string;
  drainTimeoutMs: number;
}

interface DrainArgs {
  mode: 'drain';
  store: string;
  endpoint: string | undefined;
  drainTimeoutMs: number;
  verifyJaeger: string | undefined;
}

function positiveInt(flag: string, raw: string | undefined, allowZero = false): number {
  if (raw === undefined) throw new UsageError(`--${flag} is required`);
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || (!allowZero && value === 0)) {
    throw new UsageError(
      `--${flag} is invalid, expected a ${allowZero ? 'non-negative' : 'positive'} integer (actual: ${JSON.stringify(raw)})`,
    );
  }
  return value;
}

function httpUrl(flag: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(
      `--${flag} is invalid, expected an http(s) URL (actual: ${JSON.stringify(raw)})`,
    );
  }
  return raw;
}

function nonEmpty(flag: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw.trim() === '') throw new UsageError(`--${flag} is invalid, expected a non-empty string`);
  return raw;
}

function parseLoadtestArgs(argv: string[]): LoadArgs | DrainArgs {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    // parseArgs's own messages name the flag ("Unknown option '--x'"); keep them.
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  const drainTimeoutMs = positiveInt('drain-timeout-s', v['drain-timeout-s'] ?? '10', true) * 1000;
  const endpoint = httpUrl('endpoint', v.endpoint);
  if (v['drain-only']) {
    for (const flag of ['runs', 'tool-calls', 'concurrency', 'principal', 'service'] as const) {
      if (v[flag] !== undefined) throw new UsageError(`--${flag} makes no sense with --drain-only`);
    }
    const store = nonEmpty('store', v.store) ?? process.env.AGENT_AUDIT_STORE_DIR?.trim();
    if (!store)
      throw new UsageError('--drain-only needs --store DIR (the store the loadtest printed)');
    return {
      mode: 'drain',
      store: resolve(store),
      endpoint,
      drainTimeoutMs,
      verifyJaeger: httpUrl('verify-jaeger', v['verify-jaeger']),
    };
  }
  if (v['verify-jaeger'] !== undefined)
    throw new UsageError('--verify-jaeger goes with --drain-only');
  return {
    mode: 'load',
    runs: positiveInt('runs', v.runs),
    toolCalls: positiveInt('tool-calls', v['tool-calls']),
    concurrency: positiveInt('concurrency', v.concurrency),
    principal: nonEmpty('principal', v.principal) ?? missing('principal'),
    store: nonEmpty('store', v.store),
    endpoint,
    service:
      nonEmpty('service', v.service) ??
      (process.env.OTEL_SERVICE_NAME?.trim() || 'agent-audit-loadtest'),
    drainTimeoutMs,
  };
}

function missing(flag: string): never {
  throw new UsageError(`--${flag} is required`);
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      runs: { type: 'string' },
      'tool-calls': { type: 'string' },
      concurrency: { type: 'string' },
      principal: { type: 'string' },
      store: { type: 'string' },
      endpoint: { type: 'string' },
      service: { type: 'string' },
      'drain-timeout-s': { type: 'string' },
      'drain-only': { type: 'boolean' },
      'verify-jaeger': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

/**
 * Holds the process open until `work` settles. The SDK's forwarder unrefs its socket and its
 * backoff timers (so that it never keeps a finished agent alive), which also means that nothing
 * keeps the event loop going during an explicit drain: without this the process would exit 0
 * in the middle of it, with nothing printed.
 */
async function keepingAlive<T>(work: Promise<T>): Promise<T> {
  const timer = setInterval(() => undefined, 60_000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));
const log = (message: string) => process.stderr.write(`loadtest: ${message}\n`);

async function runLoad(args: LoadArgs): Promise<number> {
  const storeDir = resolve(
    args.store ??
      (process.env.AGENT_AUDIT_STORE_DIR?.trim() ||
        mkdtempSync(join(tmpdir(), 'agent-audit-loadtest-'))),
  );
  // Trust material (signing key, anchor) belongs outside the store; next to it by default.
  const trustDir = resolve(
    process.env.AGENT_AUDIT_TRUST_DIR?.trim() ||
      join(dirname(storeDir), `${basename(storeDir)}.trust`),
  );
  const audit = registerAgentAudit({
    serviceName: args.service,
    storeDir,
    trustDir,
    ...(args.endpoint !== undefined ? { otlpEndpoint: args.endpoint } : {}),
  });
  const forwarder = audit.forwarder;
  log(`store ${storeDir}`);
  log(forwarder ? `forwarding to ${forwarder.endpoint}` : 'forwarding off (AGENT_AUDIT_FORWARD)');
  const before = audit.processor.getStats();

  let finished = 0;
  let lastFinished = 0;
  let lastTick = performance.now();
  const progress = setInterval(() => {
    void (async () => {
      const now = performance.now();
      const rate = ((finished - lastFinished) * (args.toolCalls + 1)) / ((now - lastTick) / 1000);
      lastFinished = finished;
      lastTick = now;
      const status = await forwarder?.status();
      const fwd = status
        ? `, forwarder ${status.state}, ${status.pendingRecords ?? '?'} records pending${status.consecutiveFailures > 0 ? ` (${status.lastError})` : ''}`
        : '';
      log(`${finished}/${args.runs} runs, ~${Math.round(rate)} spans/s${fwd}`);
    })();
  }, 1000);
  progress.unref();

  let result: Awaited<ReturnType<typeof runWorkload>>;
  try {
    result = await runWorkload({
      runs: args.runs,
      toolCalls: args.toolCalls,
      concurrency: args.concurrency,
      principal: args.principal,
      onRunDone: (n) => {
        finished = n;
      },
    });
    // Every ended span durable in the store: the store's rate ends here.
    await audit.processor.forceFlush();
  } finally {
    clearInterval(progress);
  }
  const durableAt = performance.now();
  const after = audit.processor.getStats();
  const spans = after.endRecords - before.endRecords;
  const failed = after.failedRecords - before.failedRecords;

  let drain: { ok: boolean; reason?: string } = { ok: false, reason: 'forwarding is off' };
  let drainedAt = durableAt;
  if (forwarder) {
    log(`load done; draining to ${forwarder.endpoint} (up to ${args.drainTimeoutMs / 1000} s)`);
    drain = await keepingAlive(forwarder.drain({ timeoutMillis: args.drainTimeoutMs }));
    drainedAt = performance.now();
  }
  const status = await forwarder?.status();
  // Stop first: shutdown's own drain would wait on a request stuck at a black-hole endpoint.
  await forwarder?.stop();
  await audit.shutdown();

  const seconds = (durableAt - result.startedAt) / 1000;
  const summary: Record<string, unknown> = {
    runs: result.runs,
    tool_calls: result.toolCallMs.length,
    concurrency: args.concurrency,
    principal: args.principal,
    service: args.service,
    spans,
    failed_records: failed,
    elapsed_s: round(seconds, 3),
    spans_per_s: round(spans / seconds, 1),
    tool_call_p50_ms: round(quantile(result.toolCallMs, 0.5), 3),
    tool_call_p99_ms: round(quantile(result.toolCallMs, 0.99), 3),
    tool_call_max_ms: round(quantile(result.toolCallMs, 1), 3),
    endpoint: forwarder?.endpoint ?? null,
    drain_ok: drain.ok,
    ...(drain.ok ? {} : { drain_reason: drain.reason ?? 'unknown' }),
    // Both from the cursor file: cumulative for this store, across every process that forwarded it.
    forwarded: status?.delivered ?? 0,
    pending_records: status?.pendingRecords ?? null,
    ...(drain.ok && forwarder
      ? { forwarded_spans_per_s: round(spans / ((drainedAt - result.startedAt) / 1000), 1) }
      : {}),
    store: storeDir,
    trust: trustDir,
  };
  if (!drain.ok && forwarder) {
    log(
      `not everything is in Jaeger yet (${drain.reason}); it stays in the store: ` +
        `pnpm --silent loadtest --drain-only --store ${storeDir} --endpoint ${forwarder.endpoint}`,
    );
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return failed === 0 ? 0 : 1;
}

async function runDrain(args: DrainArgs): Promise<number> {
  log(`draining ${args.store}`);
  const result = await keepingAlive(
    forwardPending({
      storeDir: args.store,
      ...(args.endpoint !== undefined ? { endpoint: args.endpoint } : {}),
      drain: args.drainTimeoutMs > 0,
      ...(args.drainTimeoutMs > 0 ? { timeoutMillis: args.drainTimeoutMs } : {}),
    }),
  );
  const summary: Record<string, unknown> = {
    drain_ok: result.ok,
    ...(result.ok ? {} : { drain_reason: result.reason ?? 'unknown' }),
    endpoint: result.status.endpoint,
    forwarded: result.status.delivered,
    dead_letter_spans: result.deadLetterSpans,
    pending_records: result.status.pendingRecords ?? null,
    store: args.store,
  };
  let ok = result.ok;
  if (args.verifyJaeger) {
    const stored = readStoredSpans(args.store);
    log(`asking ${args.verifyJaeger} for ${stored.size} stored spans`);
    const check = await checkJaeger(args.verifyJaeger, stored);
    summary.stored_spans = check.expected;
    summary.jaeger_spans_found = check.found;
    summary.jaeger_missing_spans = check.expected - check.found;
    if (check.found < check.expected) {
      ok = false;
      log(`missing in Jaeger, e.g. ${check.missingSample.join(', ')}`);
    }
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return ok ? 0 : 1;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--scenario')) {
    // The labelled anomaly workload (anomaly-loadtest.ts): its own options and summary.
    process.exitCode = await runScenarioLoadtest(argv);
    return;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let args: LoadArgs | DrainArgs;
  try {
    args = parseLoadtestArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`loadtest: ${err.message}\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  process.exitCode = args.mode === 'load' ? await runLoad(args) : await runDrain(args);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `loadtest: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
});
