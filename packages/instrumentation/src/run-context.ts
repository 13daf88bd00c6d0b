import { type Baggage, type Context, context, propagation } from '@opentelemetry/api';

/** What a context knows about the run it belongs to. */
export interface RunAttributes {
  /** `workflow.run_id`. */
  readonly runId: string;
  /** `agent.id`; absent only for a remote parent known from baggage alone. */
  readonly agentId?: string | undefined;
  readonly agentName?: string | undefined;
  readonly agentVersion?: string | undefined;
  readonly triggerPrincipal?: string | undefined;
  readonly triggerType?: string | undefined;
  readonly credentialRef?: string | undefined;
  readonly tenantId?: string | undefined;
  readonly workflowName?: string | undefined;
  readonly workflowVersion?: string | undefined;
  readonly model?: string | undefined;
  /**
   * True when the run is known only from a remote parent's W3C baggage: then only `runId`
   * and `triggerPrincipal` are set.
   */
  readonly remote?: boolean | undefined;
  /**
   * True when the run id and principal came from a remote caller's signed run context that
   * this process verified (`configureRunContextTrust`): `run_context.status=verified`.
   */
  readonly verified?: boolean | undefined;
  /** A remote run context that was NOT adopted (unsigned or invalid), recorded as claimed. */
  readonly claimed?: ClaimedRunContext | undefined;
}

/** What a remote caller claimed but could not prove: never the run's id or principal. */
export interface ClaimedRunContext {
  readonly runId: string;
  readonly principal?: string | undefined;
  /** `unsigned`, `bad_signature`, `expired`, … (see `RunContextClaimReason`). */
  readonly reason: string;
}

/** W3C baggage entries that carry a run across processes; nothing else is read from baggage. */
export const BAGGAGE_RUN_ID = 'workflow.run_id';
export const BAGGAGE_TRIGGER_PRINCIPAL = 'trigger.principal';

// Symbol.for, not createContextKey: two copies of this package in one process (a bundled
// agent plus the SDK's copy) must see the same run.
const RUN_CONTEXT_KEY = Symbol.for('@agent-audit/instrumentation.run');
const CLAIMED_CONTEXT_KEY = Symbol.for('@agent-audit/instrumentation.claimed-run');

/** A context that carries a remote run context that was not adopted. */
export function setClaimedRunContext(ctx: Context, claim: ClaimedRunContext): Context {
  return ctx.setValue(CLAIMED_CONTEXT_KEY, Object.freeze({ ...claim }));
}

/** The claimed (not adopted) remote run context of `ctx`, if any. */
export function getClaimedRunContext(
  ctx: Context = context.active(),
): ClaimedRunContext | undefined {
  return ctx.getValue(CLAIMED_CONTEXT_KEY) as ClaimedRunContext | undefined;
}

// Baggage is untrusted input from another process: bound what it can put on our spans.
const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}$/;
const MAX_PRINCIPAL_LENGTH = 256;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

export function isValidRunId(v: unknown): v is string {
  return typeof v === 'string' && RUN_ID_PATTERN.test(v);
}

export function isValidPrincipal(v: unknown): v is string {
  return (
    typeof v === 'string' && v.length > 0 && v.length <= MAX_PRINCIPAL_LENGTH && !CONTROL.test(v)
  );
}

/**
 * The run a context belongs to: from the in-process run key, else from the allow-listed W3C
 * baggage entries of a remote parent, else undefined.
 */
export function getRunContext(ctx: Context = context.active()): RunAttributes | undefined {
  const local = ctx.getValue(RUN_CONTEXT_KEY) as RunAttributes | undefined;
  if (local !== undefined) return local;
  return runFromBaggage(propagation.getBaggage(ctx));
}

/** A context that belongs to `run`: the run key plus the allow-listed baggage entries. */
export function setRunContext(ctx: Context, run: RunAttributes): Context {
  return withRunBaggage(ctx.setValue(RUN_CONTEXT_KEY, run), run);
}

/** Adds the run's baggage entries to `ctx`, keeping every other baggage entry. */
export function withRunBaggage(ctx: Context, run: RunAttributes): Context {
  let bag = propagation.getBaggage(ctx) ?? propagation.createBaggage();
  bag = bag.setEntry(BAGGAGE_RUN_ID, { value: run.runId });
  bag =
    run.triggerPrincipal !== undefined
      ? bag.setEntry(BAGGAGE_TRIGGER_PRINCIPAL, { value: run.triggerPrincipal })
      : bag.removeEntry(BAGGAGE_TRIGGER_PRINCIPAL);
  return propagation.setBaggage(ctx, bag);
}

/** Drops the in-process run key, so the baggage (a remote parent) decides the run. */
export function clearLocalRun(ctx: Context): Context {
  return ctx.deleteValue(RUN_CONTEXT_KEY);
}

export function runFromBaggage(bag: Baggage | undefined): RunAttributes | undefined {
  if (bag === undefined) return undefined;
  const runId = bag.getEntry(BAGGAGE_RUN_ID)?.value;
  if (!isValidRunId(runId)) return undefined;
  const principal = bag.getEntry(BAGGAGE_TRIGGER_PRINCIPAL)?.value;
  return Object.freeze({
    runId,
    triggerPrincipal: isValidPrincipal(principal) ? principal : undefined,
    remote: true,
  });
}
