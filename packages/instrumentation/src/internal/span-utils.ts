import { messageOf } from '@agent-audit/canonical-json';
import { type Attributes, diag, type Span, SpanStatusCode } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ERROR_TYPE_VALUE_OTHER } from '../semconv.js';
import { hrNow } from './clock.js';

export const log = diag.createComponentLogger({ namespace: '@agent-audit/instrumentation' });

/** Low-cardinality class of a thrown value, for `error.type`. */
export function errorType(err: unknown): string {
  try {
    if (err instanceof Error) {
      const ctor = (err as { constructor?: { name?: unknown } }).constructor?.name;
      if (typeof ctor === 'string' && ctor !== '' && ctor !== 'Object') return ctor;
      if (typeof err.name === 'string' && err.name !== '') return err.name;
    }
  } catch {
    // fall through
  }
  return ERROR_TYPE_VALUE_OTHER;
}

/**
 * Records a failure on a span; never throws. Refusals by the audit layer pass
 * `exception: false`: they are outcomes with their own events, and a stack trace adds nothing.
 */
export function markError(span: Span, err: unknown, exception = true): void {
  try {
    span.setAttribute(ATTR_ERROR_TYPE, errorType(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(err) });
    if (exception && err instanceof Error) span.recordException(err, hrNow());
  } catch (e) {
    log.error('recording an error on a span failed', e);
  }
}

/** Ends a span at the high-resolution clock (see clock.ts); never throws. */
export function endSpan(span: Span): void {
  try {
    span.end(hrNow());
  } catch (e) {
    log.error('ending a span failed', e);
  }
}

/** Sets defined values only (OTel drops undefined anyway, but an object stays readable). */
export function put(
  attrs: Attributes,
  key: string,
  value: string | number | boolean | string[] | undefined,
): void {
  if (value !== undefined) attrs[key] = value;
}

export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}
