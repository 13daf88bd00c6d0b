import type { Span } from '@opentelemetry/api';
import { type HashKey, hashKeyProblem } from './hash-value.js';
import {
  type InputSignalRule,
  inputSignalRulesProblem,
  normalizeSignalRules,
} from './input-features.js';
import {
  checkBoolean,
  checkFunction,
  checkObject,
  invalidOption,
} from './internal/configuration.js';
import type { PolicyHook } from './policy.js';
import type { RunAttributes } from './run-context.js';
import { type SubjectKey, subjectKeyProblem } from './subject-ref.js';

/** Chooses the hash key for a span, e.g. one key per tenant. */
export type HashKeyResolver = (run: RunAttributes | undefined) => HashKey | undefined;

/**
 * How the SDK (or a test) plugs into the instrumentation API without this package importing
 * it. One registration per process, shared by every copy of this package that is loaded.
 */
export interface AuditHooks {
  /**
   * Refuse, before the tool runs, a tool call with no run context (and a policy hook's
   * `stop`/`approval_required`, which always refuse). The default value is false.
   */
  readonly strict?: boolean;
  /**
   * Keyed HMAC for `input.hash`/`output.hash`, either one key or a resolver (per tenant).
   * The default value is undefined: unkeyed `sha256:`.
   */
  readonly hashKey?: HashKey | HashKeyResolver;
  /**
   * Record raw tool arguments/results and LLM messages (`gen_ai.tool.call.arguments`, …).
   * The default value is false: only hashes are recorded.
   */
  readonly captureContent?: boolean;
  /**
   * Awaited after the tool span starts and before the tool runs. The SDK resolves it once the
   * pre-exec record is durable (fail-closed mode) or returns undefined. A rejection refuses
   * the tool call with an {@link AuditRefusedError}.
   */
  readonly beforeToolCall?: (span: Span) => Promise<void> | void;
  /**
   * The process-wide policy gate: decides every audited tool call that brings no `policy` of
   * its own (hand-wrapped with `traceToolCall`, or through a framework integration). With
   * none, a call is recorded as allowed by `decision.policy = none` (ungoverned, and
   * countable). The default value is undefined.
   */
  readonly policy?: PolicyHook;
  /**
   * More content classes for `input.signals`, tested after the built-in ones (see
   * `BUILT_IN_INPUT_SIGNALS`): `{ name: 'pii_ssn', pattern: /\b\d{3}-\d{2}-\d{4}\b/ }`. Each
   * pattern runs on the input's strings within the scan's budget; keep it linear. The default
   * value is none.
   */
  readonly inputSignals?: readonly InputSignalRule[];
  /**
   * The key that turns `compliance.dataSubjects` identifiers into `data.subjects` references
   * (`subj:<key-id>:<32 hex>`). Without it, raw identifiers are refused (`Configuration:`).
   * The SDK loads it from `<trust dir>/subject-key.json`. The default value is undefined.
   */
  readonly subjectKey?: SubjectKey;
}

const HOOKS_KEY = Symbol.for('@agent-audit/instrumentation.hooks');
const NO_HOOKS: AuditHooks = Object.freeze({});

type GlobalWithHooks = typeof globalThis & { [HOOKS_KEY]?: AuditHooks };

/**
 * Registers the process-wide hooks (replacing earlier ones); `undefined` removes them.
 * A bad option throws `Configuration: … is invalid, expected … (actual: …)`.
 */
export function setAuditHooks(hooks: AuditHooks | undefined): void {
  const g = globalThis as GlobalWithHooks;
  if (hooks === undefined) {
    delete g[HOOKS_KEY];
    return;
  }
  checkObject('hooks', hooks);
  for (const name of ['strict', 'captureContent'] as const) checkBoolean(name, hooks[name]);
  checkFunction('beforeToolCall', hooks.beforeToolCall, false);
  checkFunction('policy', hooks.policy, false);
  if (hooks.hashKey !== undefined && typeof hooks.hashKey !== 'function') {
    const problem = hashKeyProblem(hooks.hashKey);
    if (problem !== undefined) throw invalidOption('hashKey', problem);
  }
  if (hooks.subjectKey !== undefined) {
    const problem = subjectKeyProblem(hooks.subjectKey);
    if (problem !== undefined) throw invalidOption('subjectKey', problem);
  }
  let inputSignals: readonly InputSignalRule[] | undefined;
  if (hooks.inputSignals !== undefined) {
    const problem = inputSignalRulesProblem(hooks.inputSignals);
    if (problem !== undefined) throw invalidOption('inputSignals', problem);
    inputSignals = Object.freeze(normalizeSignalRules(hooks.inputSignals));
  }
  // A frozen copy: later mutation of the caller's object cannot change behaviour mid-run.
  g[HOOKS_KEY] = Object.freeze({
    ...hooks,
    ...(inputSignals === undefined ? {} : { inputSignals }),
  });
}

/** The registered hooks, or an empty object. */
export function getAuditHooks(): AuditHooks {
  return (globalThis as GlobalWithHooks)[HOOKS_KEY] ?? NO_HOOKS;
}

/** The hash key for a span of `run`; a resolver that throws counts as no key (diag'd by caller). */
export function resolveHashKey(
  hooks: AuditHooks,
  run: RunAttributes | undefined,
): HashKey | undefined {
  const k = hooks.hashKey;
  return typeof k === 'function' ? k(run) : k;
}
