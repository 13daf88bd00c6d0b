// The OpenTelemetry SDK is a devDependency only: the package depends on the API alone.
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CBaggagePropagator } from '@opentelemetry/core';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';

export interface TestOtel {
  spans(): ReadableSpan[];
  named(prefix: string): ReadableSpan[];
  reset(): void;
}

/** A real SDK tracer provider with an in-memory exporter and the ALS context manager. */
export function setupOtel(): TestOtel {
  trace.disable();
  context.disable();
  propagation.disable();
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CBaggagePropagator());
  return {
    spans: () => exporter.getFinishedSpans(),
    named: (prefix) => exporter.getFinishedSpans().filter((s) => s.name.startsWith(prefix)),
    reset: () => exporter.reset(),
  };
}
