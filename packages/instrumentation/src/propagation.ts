import {
  type Context,
  context,
  propagation,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { clearLocalRun, getRunContext, runFromBaggage, withRunBaggage } from './run-context.js';

/** Plain header objects (`IncomingHttpHeaders`, `Record<string, string>`) or a fetch `Headers`. */
export type HeaderCarrier = HeaderRecord | HeadersLike;
type HeaderRecord = Record<string, string | string[] | number | undefined>;
interface HeadersLike {
  get(name: string): string | null;
  set(name: string, value: string): void;
  keys?(): Iterable<string>;
}

function isHeadersLike(c: unknown): c is HeadersLike {
  return (
    typeof (c as { get?: unknown }).get === 'function' &&
    typeof (c as { set?: unknown }).set === 'function'
  );
}

/** Case-insensitive: Node lower-cases incoming headers, hand-written objects often do not. */
const getter: TextMapGetter<HeaderCarrier> = {
  keys(carrier) {
    if (isHeadersLike(carrier)) return carrier.keys ? Array.from(carrier.keys()) : [];
    return Object.keys(carrier);
  },
  get(carrier, key) {
    if (isHeadersLike(carrier)) return carrier.get(key) ?? undefined;
    const rec = carrier as HeaderRecord;
    let v = rec[key];
    if (v === undefined) {
      const lower = key.toLowerCase();
      for (const k of Object.keys(rec)) {
        if (k.toLowerCase() === lower) {
          v = rec[k];
          break;
        }
      }
    }
    if (v === undefined) return undefined;
    return Array.isArray(v) ? v.map(String) : String(v);
  },
};

const setter: TextMapSetter<HeaderCarrier> = {
  set(carrier, key, value) {
    if (isHeadersLike(carrier)) carrier.set(key, value);
    else (carrier as HeaderRecord)[key] = value;
  },
};

/**
 * Writes W3C `traceparent` (+ `tracestate`) and `baggage` with the run id and principal into
 * `carrier`, using the globally registered propagator (the SDK registers the W3C composite).
 * Returns the carrier.
 */
export function injectRunContext<C extends HeaderCarrier>(
  carrier: C,
  ctx: Context = context.active(),
): C {
  const run = getRunContext(ctx);
  // Re-assert the entries: user code may have replaced the baggage inside the run.
  const out = run === undefined ? ctx : withRunBaggage(ctx, run);
  propagation.inject(out, carrier, setter);
  return carrier;
}

/**
 * The context described by incoming headers: the remote span as parent and, when the baggage
 * holds a valid run id, that run (which then wins over any run of `ctx`).
 */
export function extractRunContext(
  carrier: HeaderCarrier,
  ctx: Context = context.active(),
): Context {
  const extracted = propagation.extract(ctx, carrier, getter);
  return runFromBaggage(propagation.getBaggage(extracted)) === undefined
    ? extracted
    : clearLocalRun(extracted);
}

/** Runs `fn` in the context extracted from `carrier` (see {@link extractRunContext}). */
export function withRemoteRunContext<T>(carrier: HeaderCarrier, fn: () => T): T {
  return context.with(extractRunContext(carrier), fn);
}
