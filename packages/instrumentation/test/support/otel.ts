// The OpenTelemetry SDK is a devDependency only: the package itself depends on the API alone.

import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterEach, beforeAll } from 'vitest';

export interface TestOtel {
  exporter: InMemorySpanExporter;
  provider: TracerProvider;
  spans(): ReadableSpan[];
  byName(name: string): ReadableSpan;
  /** Finished spans whose name starts with `prefix`. */
  named(prefix: string): ReadableSpan[];
  reset(): void;
}

/**
 * Registers a real SDK tracer provider, ALS context manager and W3C propagators globally. Shared
 * by the instrumentation tests and the integrations' (langchain, ai-sdk, openai-agents).
 */
export function setupOtel(): TestOtel {
  trace.disable();
  context.disable();
  propagation.disable();
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  );
  return {
    exporter,
    provider,
    spans: () => exporter.getFinishedSpans(),
    byName(name) {
      const found = exporter.getFinishedSpans().filter((s) => s.name === name);
      if (found.length !== 1) {
        throw new Error(
          `expected one span named ${name}, found ${found.length}: ${exporter
            .getFinishedSpans()
            .map((s) => s.name)
            .join(', ')}`,
        );
      }
      return found[0]!;
    },
    named: (prefix) => exporter.getFinishedSpans().filter((s) => s.name.startsWith(prefix)),
    reset: () => exporter.reset(),
  };
}

/**
 * The preamble of a span test file: `setupOtel()` then `afterSetup` before its tests; after each
 * test the finished spans are cleared, then `afterEach` runs (e.g. `() => setAuditHooks(undefined)`).
 * Call at module level.
 */
export function useOtel(hooks: { afterSetup?: () => void; afterEach?: () => void } = {}): TestOtel {
  let otel: TestOtel | undefined;
  beforeAll(() => {
    otel = setupOtel();
    hooks.afterSetup?.();
  });
  afterEach(() => {
    otel?.reset();
    hooks.afterEach?.();
  });
  const current = (): TestOtel => {
    if (otel === undefined) throw new Error('useOtel(): spans read before beforeAll ran');
    return otel;
  };
  return {
    get exporter() {
      return current().exporter;
    },
    get provider() {
      return current().provider;
    },
    spans: () => current().spans(),
    byName: (name) => current().byName(name),
    named: (prefix) => current().named(prefix),
    reset: () => current().reset(),
  };
}
