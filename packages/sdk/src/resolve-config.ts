import { resolveOtlpHeaders, resolveTracesEndpoint } from '@agent-audit/forwarder';
import {
  type HashKey,
  type HashKeyResolver,
  type InputSignalRule,
  inputSignalRulesProblem,
  type PolicyHook,
  type RunContextTrustOptions,
  type SubjectKey,
  subjectKeyProblem,
} from '@agent-audit/instrumentation';
import {
  normaliseRetentionPolicy,
  parseRetentionAge,
  RETENTION_POLICY_ENV,
  type RetentionPolicyInput,
  readRetentionPolicyFile,
  resolveStoreLocations,
} from '@agent-audit/store';
import type { Attributes } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { type MetricsOptions, type ResolvedMetrics, resolveMetrics } from './metrics-config.js';

/** Options of {@link registerAgentAudit}; precedence is code > environment > default. */
export interface RegisterAgentAuditOptions {
  /** `service.name`. Env `OTEL_SERVICE_NAME`. The default value is `unknown_service:node`. */
  serviceName?: string;
  /** The WORM store directory. Env `AGENT_AUDIT_STORE_DIR`. The default value is `./.agent-audit`. */
  storeDir?: string;
  /**
   * Trust material (signing key, anchor), meant to live outside the store. Env
   * `AGENT_AUDIT_TRUST_DIR`. The default value is `./.agent-audit-trust`.
   */
  trustDir?: string;
  /**
   * OTLP/HTTP traces URL the forwarder feeds from the store. Env
   * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`.
   * The default value is `http://localhost:4318/v1/traces`.
   */
  otlpEndpoint?: string;
  /**
   * Forward to the OTLP endpoint from this process. With false, only the store is written and
   * `agent-audit forward` ships it later. Env `AGENT_AUDIT_FORWARD`. The default value is true.
   */
  forward?: boolean;
  /**
   * Refuse tool calls with no run context before the tool runs. Env `AGENT_AUDIT_STRICT`.
   * The default value is false.
   */
  strict?: boolean;
  /**
   * A tool runs only once its pre-exec record is durable; a store failure refuses the call.
   * Env `AGENT_AUDIT_FAIL_CLOSED`. The default value is false.
   */
  failClosed?: boolean;
  /**
   * Keyed HMAC for `input.hash`/`output.hash`: one key, or a resolver choosing one per run (per
   * tenant). The default value is none (plain `sha256:`, reversible by dictionary for
   * low-entropy inputs).
   */
  hashKey?: HashKey | HashKeyResolver;
  /**
   * Secret and PII redaction before the store and Jaeger: `fields` are attribute keys whose
   * whole value is always replaced; `pii: false` keeps personal data in free text (secrets are
   * always removed). The default value is `{ fields: [], pii: true }`.
   */
  redact?: { fields?: string[]; pii?: boolean };
  /** Record raw tool arguments/results and messages. The default value is false. */
  captureContent?: boolean;
  /**
   * The policy gate of the process: decides every audited tool call that brings no `policy`
   * of its own — hand-wrapped with `traceToolCall` or made through a framework integration
   * (MCP, AI SDK, LangChain, OpenAI Agents). `allow` runs the tool, `stop` and
   * `approval_required` refuse it before it runs. With none, each call is recorded as allowed
   * by `decision.policy = none`. The default value is none.
   */
  policy?: PolicyHook;
  /**
   * Signed run context across processes (`configureRunContextTrust`): `signingKey` signs the
   * run context this process propagates (`injectRunContext`), `trustedKeys` are the callers
   * whose signed context this process verifies before it adopts a remote run and principal;
   * anything else is recorded as claimed. Checked at registration (a bad key throws
   * `Configuration: runContextTrust.…`). The default value is none (remote runs are adopted
   * from baggage, unverified).
   */
  runContextTrust?: RunContextTrustOptions;
  /**
   * More content classes for a tool call's `input.signals`, after the built-in ones:
   * `[{ name: 'pii_ssn', pattern: /\b\d{3}-\d{2}-\d{4}\b/ }]` (names `[a-z0-9_]{1,64}`, linear
   * patterns). The default value is none.
   */
  inputSignals?: InputSignalRule[];
  /**
   * OpenTelemetry metrics of the audited calls (`agent_audit.tool.invocations`,
   * `agent_audit.tool.duration`, `agent_audit.permission.denials`, `agent_audit.audit.violations`,
   * `agent_audit.store.append_lag`, `agent_audit.forwarder.backlog`), exported over OTLP/HTTP.
   * `true` for the defaults, or {@link MetricsOptions}. Env `OTEL_METRICS_EXPORTER`
   * (`otlp`, `console`, `none`), `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`,
   * `OTEL_METRIC_EXPORT_INTERVAL`. The default value is off (unless the environment asks).
   */
  metrics?: boolean | MetricsOptions;
  /** Instrumentations to enable against this provider (HTTP, undici, …). The default value is none. */
  instrumentations?: Instrumentation[];
  /** Extra resource attributes (`deployment.environment`, …). */
  resourceAttributes?: Attributes;
  /**
   * Install SIGTERM/SIGINT/exit/uncaught-exception handlers that make every ended span durable.
   * The default value is true.
   */
  installExitHandlers?: boolean;
  /**
   * The store's retention policy `{minAge?, maxAge?, tenants?: {[tenant]: {minAge?, maxAge?}}}`
   * (ages as `30d`, `12h` or ms), recorded in the store when it differs from the recorded one
   * (docs/store-format.md, "Retention policy"). Env `AGENT_AUDIT_RETENTION_POLICY` (a JSON
   * file). The default is none: the policy recorded in the store, if any, stays in force.
   */
  retention?: RetentionPolicyInput;
  /**
   * Prune the store from this process at this interval (`1h`, or ms): segments past the
   * recorded policy's maximum age go, never below its minimum; a failed run is a process
   * warning (`PRUNE_FAILED`) and is tried again at the next tick. The default is never.
   */
  pruneEvery?: number | string;
  /**
   * The key that turns `compliance.dataSubjects` identifiers into `data.subjects` references.
   * The default is `<trustDir>/subject-key.json`, generated on first start (and reported);
   * `agent-audit runs --subject` reads the same file.
   */
  subjectKey?: SubjectKey;
}

export interface ResolvedConfig {
  serviceName: string;
  storeDir: string;
  trustDir: string;
  otlpEndpoint: string;
  otlpHeaders: Record<string, string>;
  forward: boolean;
  strict: boolean;
  failClosed: boolean;
  hashKey: HashKey | HashKeyResolver | undefined;
  redactFields: string[];
  redactPii: boolean;
  captureContent: boolean;
  policy: PolicyHook | undefined;
  runContextTrust: RunContextTrustOptions | undefined;
  inputSignals: InputSignalRule[] | undefined;
  /** Undefined when metrics are off. */
  metrics: ResolvedMetrics | undefined;
  instrumentations: Instrumentation[];
  resourceAttributes: Attributes;
  installExitHandlers: boolean;
  retention: RetentionPolicyInput | undefined;
  /** 0: never. */
  pruneEveryMs: number;
  subjectKey: SubjectKey | undefined;
}

/** Samplers that keep every span; anything else would remove audit evidence. */
const KEEPING_SAMPLERS = new Set(['always_on', 'parentbased_always_on']);
const RATIO_SAMPLERS = new Set(['traceidratio', 'parentbased_traceidratio']);

/**
 * Normalizes options once, at registration (the hot path never reads configuration again).
 * A bad option in code throws; a bad environment value warns and falls back; a sampler that
 * would drop audit spans throws, whichever way it was configured.
 */
export function resolveConfig(
  options: RegisterAgentAuditOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedConfig {
  if (options === null || typeof options !== 'object') {
    throw new Error(
      `Configuration: options is invalid, expected an object (actual: ${options === null ? 'null' : typeof options})`,
    );
  }
  checkSampler(env);
  const { storeDir, trustDir } = resolveStoreLocations({
    storeDir: options.storeDir,
    trustDir: options.trustDir,
    env,
  });
  return {
    serviceName:
      codeString('serviceName', options.serviceName) ??
      envString(env.OTEL_SERVICE_NAME) ??
      'unknown_service:node',
    storeDir,
    trustDir,
    otlpEndpoint: resolveTracesEndpoint(options.otlpEndpoint, env),
    otlpHeaders: resolveOtlpHeaders(env),
    forward: codeBool('forward', options.forward) ?? envBool(env, 'AGENT_AUDIT_FORWARD') ?? true,
    strict: codeBool('strict', options.strict) ?? envBool(env, 'AGENT_AUDIT_STRICT') ?? false,
    failClosed:
      codeBool('failClosed', options.failClosed) ??
      envBool(env, 'AGENT_AUDIT_FAIL_CLOSED') ??
      false,
    hashKey: options.hashKey,
    redactFields: codeArray('redact.fields', options.redact?.fields) ?? [],
    redactPii: codeBool('redact.pii', options.redact?.pii) ?? true,
    captureContent: codeBool('captureContent', options.captureContent) ?? false,
    policy: codeFunction('policy', options.policy),
    runContextTrust: codeObject('runContextTrust', options.runContextTrust),
    inputSignals: signalRules(options.inputSignals),
    metrics: resolveMetrics(options.metrics, env),
    instrumentations: codeArray('instrumentations', options.instrumentations) ?? [],
    resourceAttributes: { ...(options.resourceAttributes ?? {}) },
    installExitHandlers: codeBool('installExitHandlers', options.installExitHandlers) ?? true,
    retention: retentionOption(options.retention, env),
    pruneEveryMs: parseRetentionAge('pruneEvery', options.pruneEvery) ?? 0,
    subjectKey: subjectKeyOption(options.subjectKey),
  };
}

function subjectKeyOption(key: SubjectKey | undefined): SubjectKey | undefined {
  if (key === undefined) return undefined;
  const problem = subjectKeyProblem(key);
  if (problem !== undefined) throw new Error(`Configuration: subjectKey is invalid, ${problem}`);
  return key;
}

/** Code > env (a JSON file; a bad one warns and the recorded policy stays in force) > none. */
function retentionOption(
  value: RetentionPolicyInput | undefined,
  env: NodeJS.ProcessEnv,
): RetentionPolicyInput | undefined {
  if (value !== undefined) {
    normaliseRetentionPolicy(value);
    return value;
  }
  const file = env[RETENTION_POLICY_ENV]?.trim();
  if (!file) return undefined;
  try {
    return readRetentionPolicyFile(file);
  } catch (err) {
    process.emitWarning(
      `${(err as Error).message}; ${RETENTION_POLICY_ENV} ignored, the policy recorded in the store (if any) stays in force`,
      { code: 'AGENT_AUDIT_CONFIG' },
    );
    return undefined;
  }
}

function checkSampler(env: NodeJS.ProcessEnv): void {
  const sampler = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  if (!sampler || KEEPING_SAMPLERS.has(sampler)) return;
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  if (RATIO_SAMPLERS.has(sampler)) {
    // The OTel default ratio is 1.0 when the argument is absent.
    const ratio = arg === undefined || arg === '' ? 1 : Number(arg);
    if (ratio >= 1) return;
    throw new Error(
      `Configuration: OTEL_TRACES_SAMPLER=${sampler} with OTEL_TRACES_SAMPLER_ARG=${arg} would drop ` +
        `${Math.round((1 - (Number.isFinite(ratio) ? Math.max(0, ratio) : 0)) * 100)}% of audit spans; ` +
        'an audit trail records every span. Unset OTEL_TRACES_SAMPLER or set it to always_on.',
    );
  }
  throw new Error(
    `Configuration: OTEL_TRACES_SAMPLER=${sampler} would drop audit spans; an audit trail records ` +
      'every span. Unset OTEL_TRACES_SAMPLER or set it to always_on.',
  );
}

/** Checked here, before the store opens, so a bad rule has no side effect. */
function signalRules(value: InputSignalRule[] | undefined): InputSignalRule[] | undefined {
  if (value === undefined) return undefined;
  const problem = inputSignalRulesProblem(value);
  if (problem !== undefined) throw new Error(`Configuration: inputSignals is invalid, ${problem}`);
  return [...value];
}

function codeString(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new Error(
      `Configuration: ${name} is invalid, expected a non-empty string (actual: ${JSON.stringify(value)})`,
    );
  }
  return value;
}

function codeBool(name: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') {
    throw new Error(
      `Configuration: ${name} is invalid, expected a boolean (actual: ${typeof value})`,
    );
  }
  return value;
}

function codeArray<T>(name: string, value: T[] | undefined): T[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    throw new Error(
      `Configuration: ${name} is invalid, expected an array (actual: ${typeof value})`,
    );
  }
  return [...value];
}

function envString(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function envBool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return undefined;
  if (raw === 'true' || raw === '1' || raw === 'yes' || raw === 'on') return true;
  if (raw === 'false' || raw === '0' || raw === 'no' || raw === 'off') return false;
  process.emitWarning(`${name}=${env[name]} is not a boolean (true/false); using the default`, {
    code: 'AGENT_AUDIT_CONFIG',
  });
  return undefined;
}

function codeFunction<T>(name: string, value: T | undefined): T | undefined {
  if (value === undefined || typeof value === 'function') return value;
  throw new Error(
    `Configuration: ${name} is invalid, expected a function (actual: ${value === null ? 'null' : typeof value})`,
  );
}

function codeObject<T>(name: string, value: T | undefined): T | undefined {
  if (value === undefined) return undefined;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value;
  throw new Error(
    `Configuration: ${name} is invalid, expected an object (actual: ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value})`,
  );
}
