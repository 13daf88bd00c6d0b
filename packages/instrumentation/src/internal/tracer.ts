import { ProxyTracerProvider, type Tracer, type TracerProvider, trace } from '@opentelemetry/api';

import { AUDIT_INSTRUMENTATION_SCOPE } from '../attributes.js';

export const INSTRUMENTATION_NAME = AUDIT_INSTRUMENTATION_SCOPE;
export const INSTRUMENTATION_VERSION = '0.1.0';

// What the proxy returns while no provider is registered: then nothing is cached (the proxy
// hands out a tracer that binds later).
const NO_PROVIDER = new ProxyTracerProvider().getDelegate();
let cachedFor: TracerProvider | undefined;
let cachedTracer: Tracer | undefined;

// Looked up per call so a provider registered after this module loaded, or replaced in tests, is
// always the one used. The lookup itself is cheap; what cost (~0.2 us per tool call) was the SDK
// provider's getTracer, which builds a `name@version:schema` key string and looks it up. So the
// tracer is remembered together with the provider it came from (the global proxy's delegate),
// and asked for again whenever that provider changes: the same tracer the provider would have
// returned. A provider that is not behind the API's proxy is asked every time, as before.
export function getTracer(): Tracer {
  const global = trace.getTracerProvider();
  if (!(global instanceof ProxyTracerProvider)) {
    return trace.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
  }
  const provider = global.getDelegate();
  if (provider === NO_PROVIDER)
    return trace.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
  if (provider === cachedFor && cachedTracer !== undefined) return cachedTracer;
  const tracer = trace.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
  cachedFor = provider;
  cachedTracer = tracer;
  return tracer;
}
