import {
  type Context,
  context,
  propagation,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from '@opentelemetry/api';
import { formDecodedEntry, isFormEncodedBaggage } from './baggage-form-encoding.js';
import { escapeIdentity, identityProblem } from './identity-text.js';
import { log } from './internal/span-utils.js';
import {
  BAGGAGE_RUN_ID,
  BAGGAGE_TRIGGER_PRINCIPAL,
  clearLocalRun,
  getRunContext,
  isValidPrincipal,
  isValidRunId,
  runFromBaggage,
  setClaimedRunContext,
  setRunContext,
  withRunBaggage,
} from './run-context.js';
import { signRunContextCached, verifyRunContextCached } from './run-context-token-cache.js';
import { getRunContextTrust } from './run-context-trust.js';

/** The header (carrier key) that carries the signed run context `arc1.…`. */
export const RUN_CONTEXT_HEADER = 'agent-audit-run-context';

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
  const signing = getRunContextTrust();
  if (run !== undefined && signing?.signing !== undefined) {
    try {
      const traceId = trace.getSpanContext(out)?.traceId;
      if (traceId !== undefined) {
        // The same run, principal, trace and audience reuse one token until shortly before
        // its expiry (run-context-token-cache.ts): no Ed25519 signature per call.
        const token = signRunContextCached(
          {
            run: run.runId,
            ...(run.triggerPrincipal === undefined ? {} : { principal: run.triggerPrincipal }),
            trace: traceId,
            aud: signing.audience,
          },
          signing.ttlSeconds,
          signing.signing.key,
          signing.signing.keyId,
          Math.floor(Date.now() / 1000),
        );
        setter.set(carrier, RUN_CONTEXT_HEADER, token);
      }
    } catch (err) {
      log.error('injectRunContext: signing the run context failed; sent unsigned', err);
    }
  }
  return carrier;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** A header as sent, several lines of it joined as one list (`baggage` may repeat). */
function rawHeader(carrier: HeaderCarrier, name: string): string | undefined {
  const v = getter.get(carrier, name);
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * The context described by incoming headers: the remote span as parent and, when the baggage
 * holds a valid run id, that run (which then wins over any run of `ctx`). With trusted keys
 * configured (`configureRunContextTrust`), the run is adopted only from a valid signed run
 * context (header `agent-audit-run-context`) for this audience and this trace; otherwise it is
 * recorded as claimed (`run_context.*` attributes, a warning) and not adopted: spans in this
 * context belong to no run (in strict mode, tool calls are refused).
 */
export function extractRunContext(
  carrier: HeaderCarrier,
  ctx: Context = context.active(),
): Context {
  let extracted = propagation.extract(ctx, carrier, getter);
  let bag = propagation.getBaggage(extracted);
  const specPrincipal = bag?.getEntry(BAGGAGE_TRIGGER_PRINCIPAL)?.value;
  // A form-encoding sender (OpenTelemetry Python) writes a space as `+`: read its principal
  // as it meant it (see baggage-form-encoding.ts); a compliant sender's `+` stays a `+`.
  const rawBaggage = rawHeader(carrier, 'baggage');
  const formPrincipal =
    rawBaggage === undefined ? undefined : formDecodedEntry(rawBaggage, BAGGAGE_TRIGGER_PRINCIPAL);
  if (
    bag !== undefined &&
    formPrincipal !== undefined &&
    bag.getEntry(BAGGAGE_TRIGGER_PRINCIPAL) !== undefined &&
    isFormEncodedBaggage(rawBaggage!)
  ) {
    bag = bag.setEntry(BAGGAGE_TRIGGER_PRINCIPAL, { value: formPrincipal });
    extracted = propagation.setBaggage(extracted, bag);
  }
  const claimedRun = runFromBaggage(bag);
  warnRefusedEntries(bag);
  if (claimedRun === undefined) return extracted;
  const trust = getRunContextTrust();
  if (trust === undefined || trust.trusted.size === 0) return clearLocalRun(extracted);
  // Trust configured: the run and principal come from a valid signed context only.
  const verdict = verifyRunContextCached(
    first(getter.get(carrier, RUN_CONTEXT_HEADER)),
    trust.trusted,
    {
      audience: trust.audience,
      traceId: trace.getSpanContext(extracted)?.traceId,
      now: Math.floor(Date.now() / 1000),
    },
  );
  // The signed principal is authoritative; the baggage must name the same one, read either as
  // the spec says or, when it has a `+`, as a form encoder meant it.
  const mismatch =
    verdict.ok &&
    (verdict.claims.run !== claimedRun.runId ||
      (verdict.claims.principal === undefined
        ? specPrincipal !== undefined
        : verdict.claims.principal !== specPrincipal &&
          verdict.claims.principal !== formPrincipal));
  if (verdict.ok && !mismatch) {
    return setRunContext(
      clearLocalRun(extracted),
      Object.freeze({
        runId: verdict.claims.run,
        triggerPrincipal: verdict.claims.principal,
        remote: true,
        verified: true,
      }),
    );
  }
  const reason = verdict.ok ? 'run_mismatch' : verdict.reason;
  log.warn(
    `remote run context not verified (${reason}): run ${claimedRun.runId} is recorded as claimed (run_context.claimed_run_id), not adopted`,
  );
  const stripped = propagation.setBaggage(
    clearLocalRun(extracted),
    (bag ?? propagation.createBaggage())
      .removeEntry(BAGGAGE_RUN_ID)
      .removeEntry(BAGGAGE_TRIGGER_PRINCIPAL),
  );
  return setClaimedRunContext(stripped, {
    runId: claimedRun.runId,
    principal: claimedRun.triggerPrincipal,
    reason,
  });
}

/**
 * A run id or principal that was sent but refused (control, bidi or invisible formatting
 * characters, too long) is never adopted; say so, escaped, so that the refusal is visible.
 */
function warnRefusedEntries(bag: ReturnType<typeof propagation.getBaggage>): void {
  if (bag === undefined) return;
  const runId = bag.getEntry(BAGGAGE_RUN_ID)?.value;
  if (runId !== undefined && !isValidRunId(runId)) {
    log.warn(
      `remote run context: ${BAGGAGE_RUN_ID} ${JSON.stringify(escapeIdentity(runId))} refused (${identityProblem(runId) ?? 'not [A-Za-z0-9._:@/+=-], at most 128 characters'}); no run adopted`,
    );
  }
  const principal = bag.getEntry(BAGGAGE_TRIGGER_PRINCIPAL)?.value;
  if (principal !== undefined && !isValidPrincipal(principal)) {
    log.warn(
      `remote run context: ${BAGGAGE_TRIGGER_PRINCIPAL} ${JSON.stringify(escapeIdentity(principal))} refused (${identityProblem(principal)}); not adopted`,
    );
  }
}

/** Runs `fn` in the context extracted from `carrier` (see {@link extractRunContext}). */
export function withRemoteRunContext<T>(carrier: HeaderCarrier, fn: () => T): T {
  return context.with(extractRunContext(carrier), fn);
}
