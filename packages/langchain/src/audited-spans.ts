import type { Span } from '@opentelemetry/api';

/**
 * Spans this package already made for a tool or model call (by the middleware or the
 * `wrapToolCall` wrapper). The callback handler, when it is registered as well, sees those
 * calls again through LangChain's callbacks and skips them instead of recording them twice.
 */
const audited = new WeakSet<Span>();

export function markAudited(span: Span): void {
  audited.add(span);
}

export function isAudited(span: Span | undefined): boolean {
  return span !== undefined && audited.has(span);
}
