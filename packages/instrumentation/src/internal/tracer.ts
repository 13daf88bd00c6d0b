import { type Tracer, trace } from '@opentelemetry/api';

export const INSTRUMENTATION_NAME = '@agent-audit/instrumentation';
export const INSTRUMENTATION_VERSION = '0.1.0';

// Looked up per call (the SDK caches tracers by name) so a provider registered after this
// module loaded, or replaced in tests, is always the one used.
export function getTracer(): Tracer {
  return trace.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
}
