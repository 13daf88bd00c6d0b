import { isMainThread } from 'node:worker_threads';
import { Forwarder, storeForwarderSource } from '@agent-audit/forwarder';
import { configureRunContextTrust, setAuditHooks } from '@agent-audit/instrumentation';
import {
  AuditStore,
  loadOrCreateSubjectKey,
  openSegmentReader,
  SUBJECT_KEY_FILE,
} from '@agent-audit/store';
import {
  context,
  DiagConsoleLogger,
  diag,
  metrics as metricsApi,
  propagation,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  diagLogLevelFromString,
  suppressTracing,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import { AlwaysOnSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import { AppendLagSink } from './audit-metrics.js';
import { AuditSpanProcessor } from './audit-span-processor.js';
import { type StartedMetrics, startMetrics } from './metrics-config.js';
import {
  type RegisterAgentAuditOptions,
  type ResolvedConfig,
  resolveConfig,
} from './resolve-config.js';
import { SpanRedactor } from './span-redactor.js';

/** What {@link registerAgentAudit} returns; one per process. */
export interface AgentAuditHandle {
  /** The WORM store writer (the source of truth). */
  readonly store: AuditStore;
  readonly provider: TracerProvider;
  readonly processor: AuditSpanProcessor;
  /** Feeds the OTLP endpoint from the store; undefined when `forward` is false. */
  readonly forwarder: Forwarder | undefined;
  /** The metrics of the audited calls; undefined when `metrics` is off. */
  readonly meterProvider: StartedMetrics['provider'] | undefined;
  readonly config: Readonly<ResolvedConfig>;
  /**
   * Every span ended so far is durable in the store; then, when the endpoint is reachable, one
   * pass (no retries, at most 5 s) to forward what is pending. Never rejects for the endpoint.
   */
  forceFlush(): Promise<void>;
  /**
   * Flushes, makes one pass to forward what is pending (no retries, at most 2 s, only when the
   * endpoint is reachable), stops the forwarder, closes the store (final signed checkpoint) and releases the
   * globals. Idempotent.
   */
  shutdown(): Promise<void>;
}

const REGISTRATION_KEY = Symbol.for('@agent-audit/sdk.registration');
type GlobalWithRegistration = typeof globalThis & {
  [REGISTRATION_KEY]?: { handle: AgentAuditHandle; closed: boolean };
};

const FORCE_FLUSH_FORWARD_MILLIS = 5_000;
const IN_PROCESS_BATCH_RECORDS = 128;
const SHUTDOWN_FORWARD_MILLIS = 2_000;
// The last metrics export at shutdown (and a flush) must not hold the process on a dead endpoint.
const METRICS_FLUSH_MILLIS = 2_000;
// A signal must still end the process if shutdown hangs (e.g. a disk that stopped answering).
const SIGNAL_SHUTDOWN_MILLIS = 5_000;

/**
 * One call at process startup, before the agent's code runs (or
 * `node --import @agent-audit/sdk/register app.js`). Synchronous: the store is open and every
 * global is in place when it returns, so the first span is already audited. A second call
 * returns the same handle (and warns).
 */
export function registerAgentAudit(options: RegisterAgentAuditOptions = {}): AgentAuditHandle {
  const g = globalThis as GlobalWithRegistration;
  const existing = g[REGISTRATION_KEY];
  if (existing && !existing.closed) {
    process.emitWarning(
      'registerAgentAudit() was called again; returning the existing registration (options of the second call are ignored)',
      { code: 'AGENT_AUDIT_REGISTERED' },
    );
    return existing.handle;
  }

  const config = resolveConfig(options);
  // The processor and forwarder report through `diag` (collapsed, counted): make it visible
  // when the user asks, as the OTel SDKs do.
  const logLevel = diagLogLevelFromString(process.env.OTEL_LOG_LEVEL);
  if (logLevel !== undefined) diag.setLogger(new DiagConsoleLogger(), logLevel);
  if (config.runContextTrust !== undefined) {
    // Before the store opens: a bad key fails registration with nothing left behind.
    try {
      configureRunContextTrust(config.runContextTrust);
    } catch (err) {
      throw new Error(
        String((err as Error).message).replace(
          /^Configuration: /,
          'Configuration: runContextTrust.',
        ),
      );
    }
  }
  let store: AuditStore;
  try {
    store = AuditStore.open({
      dir: config.storeDir,
      trustDir: config.trustDir,
      ...(config.retention !== undefined ? { retention: config.retention } : {}),
      ...(config.pruneEveryMs > 0 ? { pruneEveryMs: config.pruneEveryMs } : {}),
      onNotice: (notice) => process.emitWarning(notice.message, { code: notice.code }),
    });
  } catch (err) {
    if (config.runContextTrust !== undefined) configureRunContextTrust(undefined);
    throw err;
  }

  const undo: Array<() => void> = [];
  try {
    // With metrics, a sink in front of the store measures how long appends wait to be durable.
    const lagSink = config.metrics === undefined ? undefined : new AppendLagSink(store);
    const processor = new AuditSpanProcessor({
      sink: lagSink ?? store,
      failClosed: config.failClosed,
      strict: config.strict,
      captureContent: config.captureContent,
      redactor: new SpanRedactor({ redactFields: config.redactFields, pii: config.redactPii }),
    });
    // Precedence code > env > default here too: OTEL_RESOURCE_ATTRIBUTES under the options.
    const resource = defaultResource()
      .merge(detectResources({ detectors: [envDetector] }))
      .merge(
        resourceFromAttributes({
          ...config.resourceAttributes,
          'service.name': config.serviceName,
          'process.pid': process.pid,
        }),
      );
    let shutdownPromise: Promise<void> | undefined;
    // Started before the tracer provider, whose span processors are fixed at construction;
    // the forwarder (started later) is read through `forwarder` when the gauge is observed.
    let forwarder: Forwarder | undefined;
    let metrics: StartedMetrics | undefined;
    if (config.metrics !== undefined && lagSink !== undefined) {
      metrics = startMetrics(config.metrics, resource, {
        appendLagSeconds: () => lagSink.lagSeconds(),
        forwarderBacklog: async () =>
          forwarder === undefined ? undefined : (await forwarder.status()).pendingRecords,
      });
      const started = metrics;
      // On a failed registration only: shutdown() below closes it after the last spans.
      undo.push(() => {
        if (!shutdownPromise) void started.provider.shutdown().catch(() => undefined);
      });
      if (started.global) undo.push(() => metricsApi.disable());
    }
    const provider = new TracerProvider({
      // Every span is recorded and kept: the audit path is never behind a sampler.
      sampler: new AlwaysOnSampler(),
      // The metrics processor after the audit one: it sees the violations that one adds.
      spanProcessors: metrics === undefined ? [processor] : [processor, metrics.processor],
      resource,
    });

    if (!trace.setGlobalTracerProvider(provider)) {
      throw new Error(
        'Configuration: a global tracer provider is already registered (another OpenTelemetry SDK?); ' +
          'agent-audit must own it so that no span bypasses the audit store. Register agent-audit instead of, not next to, the other SDK.',
      );
    }
    undo.push(() => trace.disable());

    const contextManager = new AsyncLocalStorageContextManager();
    contextManager.enable();
    if (context.setGlobalContextManager(contextManager)) {
      undo.push(() => context.disable());
    } else {
      contextManager.disable();
      diag.warn('agent-audit: a global context manager is already registered; using it');
    }

    if (
      propagation.setGlobalPropagator(
        new CompositePropagator({
          propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
        }),
      )
    ) {
      undo.push(() => propagation.disable());
    } else {
      diag.warn('agent-audit: a global propagator is already registered; using it');
    }

    // Data-subject identifiers are recorded only as references under this key (a fleet that
    // queries across hosts gives every host the same subject-key.json).
    let subjectKey = config.subjectKey;
    if (subjectKey === undefined) {
      const loaded = loadOrCreateSubjectKey(config.trustDir);
      if (loaded.generated) {
        process.emitWarning(
          `generated a data-subject key ${SUBJECT_KEY_FILE} in ${config.trustDir} (id ${loaded.id}); back it up with the signing key: every data.subjects reference is made with it`,
          { code: 'SUBJECT_KEY_GENERATED' },
        );
      }
      subjectKey = { id: loaded.id, secret: loaded.secret };
    }
    setAuditHooks({
      subjectKey,
      strict: config.strict,
      captureContent: config.captureContent,
      ...(config.policy ? { policy: config.policy } : {}),
      ...(config.inputSignals ? { inputSignals: config.inputSignals } : {}),
      ...(config.hashKey ? { hashKey: config.hashKey } : {}),
      ...(config.failClosed || config.strict
        ? { beforeToolCall: (span) => processor.beforeToolCall(span) }
        : {}),
    });
    undo.push(() => setAuditHooks(undefined));
    if (config.runContextTrust !== undefined) {
      undo.push(() => configureRunContextTrust(undefined));
    }

    if (config.instrumentations.length > 0) {
      undo.push(
        registerInstrumentations({
          instrumentations: config.instrumentations,
          tracerProvider: provider,
        }),
      );
    }

    if (config.forward) {
      forwarder = startForwarder(store, config, undo);
    }

    const removeExitHandlers = config.installExitHandlers
      ? installExitHandlers({
          flushSync: () => store.flushSync(),
          closeSync: () => store.closeSync(),
          shutdown: () => handle.shutdown(),
        })
      : () => undefined;

    const handle: AgentAuditHandle = {
      store,
      provider,
      processor,
      forwarder,
      meterProvider: metrics?.provider,
      config: Object.freeze({ ...config }),
      async forceFlush() {
        await provider.forceFlush();
        if (metrics) await bounded(metrics.provider.forceFlush(), METRICS_FLUSH_MILLIS);
        if (forwarder && !shutdownPromise && (await forwarder.status()).consecutiveFailures === 0) {
          await forwarder.drain({ timeoutMillis: FORCE_FLUSH_FORWARD_MILLIS, retry: false });
        }
      },
      shutdown() {
        if (!shutdownPromise) {
          shutdownPromise = (async () => {
            try {
              await provider.shutdown();
              if (metrics) await bounded(metrics.provider.shutdown(), METRICS_FLUSH_MILLIS);
              if (forwarder) {
                if ((await forwarder.status()).consecutiveFailures === 0) {
                  await forwarder.drain({ timeoutMillis: SHUTDOWN_FORWARD_MILLIS, retry: false });
                }
                await forwarder.stop();
              }
              await store.close();
            } finally {
              removeExitHandlers();
              for (const fn of undo.reverse()) safely(fn);
              const reg = g[REGISTRATION_KEY];
              if (reg?.handle === handle) reg.closed = true;
            }
          })();
        }
        return shutdownPromise;
      },
    };
    g[REGISTRATION_KEY] = { handle, closed: false };
    return handle;
  } catch (err) {
    for (const fn of undo.reverse()) safely(fn);
    void store.close().catch(() => undefined);
    throw err;
  }
}

/**
 * The forwarder is a convenience on top of the store, never a condition for auditing: if it
 * cannot start (a damaged cursor file, say), the agent runs with the store alone and says so.
 */
function startForwarder(
  store: AuditStore,
  config: ResolvedConfig,
  undo: Array<() => void>,
): Forwarder | undefined {
  let reader: ReturnType<typeof openSegmentReader> | undefined;
  try {
    // The store's absolute path: a later chdir must not move the cursor.
    reader = openSegmentReader(store.dir);
    const fwd = new Forwarder({
      storeDir: store.dir,
      source: storeForwarderSource(reader, () => store.head.seq),
      endpoint: config.otlpEndpoint,
      headers: config.otlpHeaders,
      // Reading a record from the store costs tens of µs of this (the agent's) main thread, in one
      // synchronous block per batch: 128 keeps a catch-up batch to a few ms of tool-call stall;
      // `agent-audit forward` keeps the larger default.
      maxBatchRecords: IN_PROCESS_BATCH_RECORDS,
      logger: diag.createComponentLogger({ namespace: '@agent-audit/sdk/forwarder' }),
      // The forwarder's own HTTP must not become spans that feed the store that feeds it.
      runRequest: (request) => context.with(suppressTracing(context.active()), request),
    });
    const openReader = reader;
    undo.push(() => openReader.close());
    undo.push(store.onAppend(() => fwd.wake()));
    // What an earlier process stored but never forwarded goes now.
    fwd.wake();
    return fwd;
  } catch (err) {
    reader?.close();
    process.emitWarning(
      `agent-audit: forwarding to ${config.otlpEndpoint} is off (${err instanceof Error ? err.message : String(err)}); spans are still stored, ship them later with agent-audit forward`,
      { code: 'AGENT_AUDIT_FORWARDER' },
    );
    return undefined;
  }
}

/** The live registration of this process (e.g. `node --import …/register`), if any. */
export function getAgentAudit(): AgentAuditHandle | undefined {
  const reg = (globalThis as GlobalWithRegistration)[REGISTRATION_KEY];
  return reg && !reg.closed ? reg.handle : undefined;
}

/**
 * The paths on which a process ends without anyone calling shutdown. `exit` (also reached by
 * `process.exit()`) and an uncaught exception can only run synchronous code, so the store's
 * synchronous flush makes every span ended so far durable there; `beforeExit` is not used
 * because it fires on neither. A signal with no other listener gets a full shutdown and is then
 * re-raised so the process still ends the way the signal means; with other listeners the
 * application owns the exit and we only flush.
 */
function installExitHandlers(actions: {
  flushSync: () => void;
  closeSync: () => void;
  shutdown: () => Promise<void>;
}): () => void {
  const { shutdown } = actions;
  const flush = () => safely(actions.flushSync);
  const onSignal = (signal: NodeJS.Signals) => {
    flush();
    if (process.listenerCount(signal) > 1) return;
    let done = false;
    const reraise = () => {
      if (done) return;
      done = true;
      remove();
      process.kill(process.pid, signal);
    };
    const timer = setTimeout(reraise, SIGNAL_SHUTDOWN_MILLIS);
    shutdown()
      .catch(() => undefined)
      .finally(() => {
        clearTimeout(timer);
        reraise();
      });
  };
  // On `exit` nothing runs afterwards: write, sync, sign a checkpoint and release the lock.
  const onExit = () => safely(actions.closeSync);
  const onUncaught = () => flush();
  // Signals reach the main thread only; a worker thread's registration relies on `exit`.
  const signals = isMainThread;
  if (signals) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  process.on('exit', onExit);
  process.on('uncaughtExceptionMonitor', onUncaught);
  const remove = () => {
    if (signals) {
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
    }
    process.removeListener('exit', onExit);
    process.removeListener('uncaughtExceptionMonitor', onUncaught);
  };
  return remove;
}

/** Waits for `work` at most `millis`; its failure is logged, never thrown. */
async function bounded(work: Promise<unknown>, millis: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      work.catch((err: unknown) => diag.warn('agent-audit: metrics export failed', err)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, millis);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    diag.error('agent-audit: cleanup step failed', err);
  }
}
