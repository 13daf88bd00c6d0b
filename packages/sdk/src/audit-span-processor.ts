import {
  ATTR_AGENT_ID,
  ATTR_AUDIT_CONTENT_DROPPED,
  ATTR_AUDIT_MISSING,
  ATTR_AUDIT_VIOLATION,
  ATTR_CREDENTIAL_REF,
  ATTR_INPUT_HASH,
  ATTR_TENANT_ID,
  ATTR_TRIGGER_PRINCIPAL,
  ATTR_WORKFLOW_RUN_ID,
  AUDIT_INSTRUMENTATION_SCOPE,
  getRunContext,
  looksLikeSecret,
} from '@agent-audit/instrumentation';
import { type Span as ApiSpan, type Context, diag } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { CollapsedWarnings } from './collapsed-warnings.js';
import { dropFrameworkContent } from './framework-content.js';
import type { AuditRecordSink } from './internal-types.js';
import { RecordTexts, spanEndPayload, spanRecordTags, spanStartPayload } from './otlp-json.js';
import {
  ATTR_GEN_AI_OPERATION_NAME,
  GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
  GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT,
  GEN_AI_OPERATION_NAME_VALUE_INVOKE_WORKFLOW,
} from './semconv.js';
import { SpanRedactor } from './span-redactor.js';

/** The four names every workflow and tool span must carry (DESIGN.md "Attribute schema"). */
export const MANDATORY_ATTRIBUTES: readonly string[] = [
  ATTR_AGENT_ID,
  ATTR_WORKFLOW_RUN_ID,
  ATTR_CREDENTIAL_REF,
  ATTR_INPUT_HASH,
];

/** The `audit.violation` code this processor adds when a mandatory attribute is missing. */
export const VIOLATION_MISSING_MANDATORY = 'missing_mandatory_attribute';
/** The code (shared with the instrumentation) for a `credential.ref` that is really a secret. */
export const VIOLATION_CREDENTIAL_REF_SECRET = 'credential_ref_looks_like_secret';
/** What replaces a refused `credential.ref`; it never counts as a reference. */
const REFUSED_CREDENTIAL_REF = '[REDACTED:credential_ref]';
const CREDENTIAL_CHECK_CACHE_MAX = 1024;

type AuditKind = 'workflow' | 'tool';

export interface AuditSpanProcessorOptions {
  /**
   * Where records go: the WORM store (or any sink with the same durability promises). Payloads
   * may hold parts the store has serialized already (its `CanonicalFragment`s, spliced as their
   * text by the store): any other sink gets their JSON through `toJSON()`, e.g. `JSON.stringify`.
   */
  sink: AuditRecordSink;
  /**
   * Keep, per tool span, the promise of its durable `span.start` record so that
   * `beforeToolCall` can hold the tool until its intent is on disk. The default value is false.
   */
  failClosed?: boolean;
  /**
   * Refuse, in `beforeToolCall`, a tool call whose span has no `credential.ref` (the
   * instrumentation itself refuses one without a run context). The default value is false.
   */
  strict?: boolean;
  /**
   * Secret and PII scanner applied before any record is built (on start for the pre-exec record,
   * in `onEnding` for the span), so neither the store nor Jaeger ever receives a finding;
   * `false` turns it off. The default value is `new SpanRedactor()` (secrets and PII).
   */
  redactor?: SpanRedactor | false;
  /**
   * Keep the raw prompts, messages and tool arguments/results that frameworks put on their own
   * spans. With false they are removed (and listed in `audit.content_dropped`); the audit
   * spans hold hashes either way. The default value is false.
   */
  captureContent?: boolean;
}

export interface AuditSpanProcessorStats {
  startRecords: number;
  endRecords: number;
  /** Appends the sink rejected or that threw: evidence that is NOT in the store. */
  failedRecords: number;
  /** Workflow/tool spans that ended without a mandatory attribute. */
  violations: number;
  redactions: number;
  /** Errors inside the processor itself, each swallowed so the agent keeps running. */
  internalErrors: number;
  /** Counted warnings by kind (`missing:credential.ref`, `append-failed`, …). */
  warnings: Record<string, number>;
}

/**
 * The audit path of every span: run attribution on start, the pre-exec intent record for
 * workflow and tool spans, mandatory-field enforcement and redaction while the span can still
 * change, and the durable `span.end` record. No sampler and no dropping queue sit in front of the
 * sink: every recorded span is handed to it in `onEnd`. Never throws into the application.
 */
export class AuditSpanProcessor implements SpanProcessor {
  private readonly sink: AuditRecordSink;
  private readonly failClosed: boolean;
  private readonly strict: boolean;
  private readonly redactor: SpanRedactor | undefined;
  private readonly captureContent: boolean;
  private readonly logger = diag.createComponentLogger({ namespace: '@agent-audit/sdk/processor' });
  private readonly warnings = new CollapsedWarnings(this.logger);
  // Records not yet settled, counted per batch instead of one Set entry and two closures per
  // record: forceFlush seals the open batch and waits for it (and older unsettled ones) only.
  private readonly recordFailed = (type: string, err: unknown): void => {
    this.stats.failedRecords++;
    this.warnings.warn(
      'append-failed',
      `an audit record (${type}) could not be written to the store: ${errorMessage(err)}`,
    );
  };
  private batch = new RecordBatch(this.recordFailed);
  private sealed: RecordBatch[] = [];
  private readonly gates = new Map<string, Promise<void>>();
  // The records' recurring parts (attributes, resource, scope), serialized once.
  private readonly texts = new RecordTexts();
  // Credential references repeat on every span of a run: check each distinct value once.
  private readonly credentialChecks = new Map<string, boolean>();
  private readonly stats = {
    startRecords: 0,
    endRecords: 0,
    failedRecords: 0,
    violations: 0,
    redactions: 0,
    internalErrors: 0,
  };
  private shutdownPromise: Promise<void> | undefined;

  constructor(options: AuditSpanProcessorOptions) {
    if (!options || typeof options.sink?.append !== 'function') {
      throw new Error(
        `Configuration: sink is invalid, expected an object with append() and flushSync() (actual: ${typeof options?.sink})`,
      );
    }
    this.sink = options.sink;
    this.failClosed = options.failClosed ?? false;
    this.strict = options.strict ?? false;
    this.captureContent = options.captureContent ?? false;
    if (
      options.redactor !== undefined &&
      options.redactor !== false &&
      !(options.redactor instanceof SpanRedactor)
    ) {
      throw new Error(
        `Configuration: redactor is invalid, expected a SpanRedactor or false (actual: ${typeof options.redactor})`,
      );
    }
    this.redactor =
      options.redactor === false ? undefined : (options.redactor ?? new SpanRedactor());
  }

  // After shutdown() spans are still handed to the sink: on a signal the application keeps
  // running until the process ends, and the store accepts records until it is closed (after
  // that, appends fail and are counted as lost).
  onStart(span: Span, parentContext: Context): void {
    try {
      const run = getRunContext(parentContext);
      if (run) {
        // A span's own value wins (a tool call's own credential), the run fills the gaps.
        stamp(span, ATTR_WORKFLOW_RUN_ID, run.runId);
        stamp(span, ATTR_AGENT_ID, run.agentId);
        stamp(span, ATTR_TRIGGER_PRINCIPAL, run.triggerPrincipal);
        stamp(span, ATTR_CREDENTIAL_REF, run.credentialRef);
        stamp(span, ATTR_TENANT_ID, run.tenantId);
      }
      if (!isAuditSpan(span)) {
        this.dropContent(span);
        return;
      }
      const kind = auditKind(span);
      if (kind === undefined) return;
      // The intent record is written now, so what it holds must be clean now.
      this.refuseSecretCredentialRef(span);
      if (this.redactor) this.stats.redactions += this.redactor.redactSpan(span);
      const durable = this.write({
        type: 'span.start',
        tags: spanRecordTags(span, false),
        payload: spanStartPayload(span, this.texts),
      });
      this.stats.startRecords++;
      if (this.failClosed && kind === 'tool') {
        const gate = durable.then(() => undefined);
        // Handled here so an unconsumed gate never becomes an unhandled rejection; whoever
        // awaits it still sees the rejection.
        gate.catch(() => undefined);
        this.gates.set(span.spanContext().spanId, gate);
      }
    } catch (err) {
      this.internalError('onStart', err);
      // Fail-closed means no intent on disk, no tool call: that holds for our own failures too.
      if (this.failClosed && isAuditSpan(span) && safeAuditKind(span) === 'tool') {
        const refused = Promise.reject(
          new Error(`the intent record could not be built: ${errorMessage(err)}`),
        );
        refused.catch(() => undefined);
        this.gates.set(span.spanContext().spanId, refused);
      }
    }
  }

  onEnding(span: Span): void {
    try {
      this.refuseSecretCredentialRef(span);
      if (!isAuditSpan(span)) {
        this.dropContent(span);
      } else if (auditKind(span) !== undefined) {
        // A loop that allocates only on a finding: every workflow and tool span passes here.
        let missing: string[] | undefined;
        const attrs = span.attributes;
        for (const name of MANDATORY_ATTRIBUTES) {
          const value = attrs[name];
          if (
            !hasValue(value) ||
            (name === ATTR_CREDENTIAL_REF && value === REFUSED_CREDENTIAL_REF)
          ) {
            missing ??= [];
            missing.push(name);
          }
        }
        if (missing !== undefined) {
          span.setAttribute(
            ATTR_AUDIT_VIOLATION,
            withCode(span.attributes[ATTR_AUDIT_VIOLATION], VIOLATION_MISSING_MANDATORY),
          );
          span.setAttribute(ATTR_AUDIT_MISSING, missing);
          this.stats.violations++;
          for (const name of missing) {
            this.warnings.warn(
              `missing:${name}`,
              `span "${span.name}" ended without mandatory attribute ${name}; marked ${ATTR_AUDIT_VIOLATION}`,
            );
          }
        }
      }
      if (this.redactor) this.stats.redactions += this.redactor.redactSpan(span);
    } catch (err) {
      this.internalError('onEnding', err);
    }
  }

  onEnd(span: ReadableSpan): void {
    try {
      // Gates exist only in fail-closed mode: no hashing of a fresh span id otherwise.
      if (this.gates.size > 0) this.gates.delete(span.spanContext().spanId);
      void this.write({
        type: 'span.end',
        tags: spanRecordTags(span),
        payload: spanEndPayload(span, this.texts),
      });
      this.stats.endRecords++;
    } catch (err) {
      this.internalError('onEnd', err);
    }
  }

  /**
   * The `beforeToolCall` hook: in strict mode, refuses a tool call with no credential
   * reference; in fail-closed mode, waits for the tool's intent record to be durable. A rejection
   * refuses the call before the tool runs.
   */
  beforeToolCall(span: ApiSpan): Promise<void> | undefined {
    if (this.strict) {
      const attrs = (span as unknown as Partial<ReadableSpan>).attributes;
      if (attrs !== undefined && !hasValue(attrs[ATTR_CREDENTIAL_REF])) {
        this.startRecordDurable(span);
        return Promise.reject(
          new Error(`strict mode: tool call has no ${ATTR_CREDENTIAL_REF}; refused before it ran`),
        );
      }
    }
    return this.startRecordDurable(span);
  }

  /**
   * For the fail-closed gate (`setAuditHooks({ beforeToolCall })`): resolves once the tool span's
   * `span.start` record is durable, rejects if it cannot be written. Undefined when there is
   * nothing to wait for (fail-closed off, or not a tool span).
   */
  startRecordDurable(span: ApiSpan): Promise<void> | undefined {
    const spanId = span.spanContext().spanId;
    const gate = this.gates.get(spanId);
    if (gate) this.gates.delete(spanId);
    return gate;
  }

  /**
   * Resolves once every record handed to the sink before the call has settled (durable or
   * counted as failed). Records of spans ending meanwhile are not waited for, so a flush under
   * continuous load still finishes.
   */
  async forceFlush(): Promise<void> {
    if (this.batch.count > 0) {
      this.sealed.push(this.batch);
      this.batch = new RecordBatch(this.recordFailed);
    }
    if (this.sealed.length === 0) return;
    this.sealed = this.sealed.filter((b) => b.count > 0);
    if (this.sealed.length > 0) await Promise.all(this.sealed.map((b) => b.settled()));
  }

  /** Synchronous flush for `exit` handlers: everything handed over so far is made durable. */
  flushSync(): void {
    this.sink.flushSync();
  }

  shutdown(): Promise<void> {
    if (!this.shutdownPromise) {
      this.shutdownPromise = this.forceFlush().then(() => this.warnings.summarize());
    }
    return this.shutdownPromise;
  }

  getStats(): AuditSpanProcessorStats {
    return { ...this.stats, warnings: this.warnings.snapshot() };
  }

  private write(entry: Parameters<AuditRecordSink['append']>[0]): Promise<unknown> {
    let durable: Promise<unknown>;
    try {
      durable = this.sink.append(entry);
    } catch (err) {
      durable = Promise.reject(err);
    }
    const batch = this.batch;
    batch.count++;
    const type = entry.type;
    durable.then(
      batch.settle,
      type === 'span.start'
        ? batch.startFailed
        : type === 'span.end'
          ? batch.endFailed
          : (err: unknown) => {
              this.recordFailed(type, err);
              batch.settle();
            },
    );
    return durable;
  }

  /**
   * A `credential.ref` that is a secret (a key, a token) is replaced and marked, never recorded:
   * whoever set it (a library, user code), the reference must not be the credential.
   */
  private refuseSecretCredentialRef(span: Span): void {
    const value = span.attributes[ATTR_CREDENTIAL_REF];
    if (typeof value !== 'string' || value === REFUSED_CREDENTIAL_REF) return;
    let secret = this.credentialChecks.get(value);
    if (secret === undefined) {
      secret = looksLikeSecret(value);
      if (this.credentialChecks.size >= CREDENTIAL_CHECK_CACHE_MAX) this.credentialChecks.clear();
      this.credentialChecks.set(value, secret);
    }
    if (!secret) return;
    span.setAttribute(ATTR_CREDENTIAL_REF, REFUSED_CREDENTIAL_REF);
    span.setAttribute(
      ATTR_AUDIT_VIOLATION,
      withCode(span.attributes[ATTR_AUDIT_VIOLATION], VIOLATION_CREDENTIAL_REF_SECRET),
    );
    this.warnings.warn(
      'credential-ref-secret',
      `span "${span.name}" had a ${ATTR_CREDENTIAL_REF} that looks like a secret; replaced and marked ${ATTR_AUDIT_VIOLATION}`,
    );
  }

  /** A framework's span: its raw content goes unless content capture is on. */
  private dropContent(span: Span): void {
    const attrs = span.attributes as Record<string, unknown>;
    let dropped = dropFrameworkContent(attrs, this.captureContent);
    for (const event of span.events) {
      if (event.attributes === undefined) continue;
      const more = dropFrameworkContent(event.attributes, this.captureContent);
      if (more !== undefined) dropped = [...(dropped ?? []), ...more];
    }
    if (dropped === undefined) return;
    const before = attrs[ATTR_AUDIT_CONTENT_DROPPED];
    const names = new Set(Array.isArray(before) ? (before as string[]) : []);
    for (const name of dropped) names.add(name);
    span.setAttribute(ATTR_AUDIT_CONTENT_DROPPED, [...names]);
  }

  private internalError(where: string, err: unknown): void {
    this.stats.internalErrors++;
    this.warnings.warn(
      `internal:${where}`,
      `audit processor ${where} failed: ${errorMessage(err)}`,
    );
  }
}

/** Records handed to the sink between two forceFlush calls; settles when all of them have. */
class RecordBatch {
  count = 0;
  private resolve: (() => void) | undefined;
  private promise: Promise<void> | undefined;
  constructor(private readonly failed: (type: string, err: unknown) => void) {}

  readonly settle = (): void => {
    if (--this.count === 0 && this.resolve !== undefined) this.resolve();
  };
  readonly startFailed = (err: unknown): void => {
    this.failed('span.start', err);
    this.settle();
  };
  readonly endFailed = (err: unknown): void => {
    this.failed('span.end', err);
    this.settle();
  };

  settled(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    this.promise ??= new Promise<void>((resolve) => {
      this.resolve = resolve;
    });
    return this.promise;
  }
}

function stamp(span: Span, key: string, value: string | undefined): void {
  if (value !== undefined && value !== '' && span.attributes[key] === undefined) {
    span.setAttribute(key, value);
  }
}

function hasValue(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

/**
 * Spans the agent-audit instrumentation made: the audit evidence, enforced. A framework's own
 * `execute_tool` or `invoke_agent` span is recorded like any span and never flagged: the tool
 * call it shows is audited by the integration's span beside it.
 */
function isAuditSpan(span: ReadableSpan): boolean {
  return span.instrumentationScope?.name === AUDIT_INSTRUMENTATION_SCOPE;
}

function auditKind(span: ReadableSpan): AuditKind | undefined {
  const op = span.attributes[ATTR_GEN_AI_OPERATION_NAME];
  if (op === GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL) return 'tool';
  if (
    op === GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT ||
    op === GEN_AI_OPERATION_NAME_VALUE_INVOKE_WORKFLOW
  ) {
    return 'workflow';
  }
  return undefined;
}

function safeAuditKind(span: ReadableSpan): AuditKind | undefined {
  try {
    return auditKind(span);
  } catch {
    return undefined;
  }
}

/** `audit.violation` is a string array of codes; keep what instrumentation already put there. */
function withCode(existing: unknown, code: string): string[] {
  const codes = Array.isArray(existing)
    ? existing.filter((c): c is string => typeof c === 'string')
    : typeof existing === 'string'
      ? [existing]
      : [];
  if (!codes.includes(code)) codes.push(code);
  return codes;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
