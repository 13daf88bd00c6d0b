import {
  ATTR_AGENT_ID,
  ATTR_APPROVAL_APPROVER,
  ATTR_CREDENTIAL_REF,
  ATTR_INPUT_HASH,
  ATTR_OUTPUT_HASH,
  ATTR_TENANT_ID,
  ATTR_TRIGGER_PRINCIPAL,
  ATTR_WORKFLOW_RUN_ID,
  type RedactionKind,
  redactString,
} from '@agent-audit/instrumentation';
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/sdk-trace';

/** Number of values redacted on the span (never the values themselves). */
export const ATTR_AUDIT_REDACTIONS = 'audit.redactions';
/** Kinds found (`api_key`, `jwt`, `email`, `field`, …), sorted, without counts per value. */
export const ATTR_AUDIT_REDACTION_KINDS = 'audit.redaction_kinds';

export interface SpanRedactorOptions {
  /**
   * Attribute keys whose whole value is always replaced (`http.request.header.authorization`,
   * `db.query.text`, …), in span and event attributes. The default value is none.
   */
  redactFields?: readonly string[];
  /** Mask personal data (emails, phone and card numbers) in free text. The default value is true. */
  pii?: boolean;
}

/** What one redaction pass found: how many values, of which kinds. */
export interface RedactionCount {
  count: number;
  kinds: Set<string>;
}

/** A RedactionCount whose Set is only built on a finding (most spans have none). */
interface Found {
  count: number;
  kinds: Set<string> | undefined;
}

// Who acted and on whose behalf is the audit record itself: `user:ann@example.com` must stay
// queryable. Secrets are still removed from these; personal data is not masked.
const IDENTITY_KEYS: ReadonlySet<string> = new Set([
  ATTR_WORKFLOW_RUN_ID,
  ATTR_AGENT_ID,
  ATTR_TRIGGER_PRINCIPAL,
  ATTR_TENANT_ID,
  ATTR_CREDENTIAL_REF,
  ATTR_APPROVAL_APPROVER,
]);

// Values our own instrumentation produced in a fixed, checkable format carry no secret: skipping
// them keeps the scanner off the hot path's most common strings.
const HASH_KEYS: ReadonlySet<string> = new Set([ATTR_INPUT_HASH, ATTR_OUTPUT_HASH]);
const HASH_FORMAT = /^(?:sha256|hmac-sha256:[A-Za-z0-9._-]{1,64}):[0-9a-f]{64}$/;
// UUIDs and hex ids (trace, span, call ids) hold no secret, and the card-number rule would find
// Luhn-valid digit runs in about 0.3% of them, corrupting the ids an investigation needs.
// The format is /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,64})$/i,
// checked by isIdFormat().

// One lookup classifies a key (instead of one Set per class, per value, per pass).
const KEY_IDENTITY = 1;
const KEY_HASH = 2;
const KEY_CLASS: ReadonlyMap<string, number> = new Map([
  ...[...IDENTITY_KEYS].map((k): [string, number] => [k, KEY_IDENTITY]),
  ...[...HASH_KEYS].map((k): [string, number] => [k, KEY_HASH]),
]);

/**
 * `HASH_FORMAT.test(s)`, without entering the regex engine for the common `sha256:<64 hex>`
 * (a call per hash attribute per pass; the regex call cost more than the check).
 */
function isHashFormat(s: string): boolean {
  if (s.length === 71 && s.startsWith('sha256:')) return isHex(s, 7, 71, false);
  return s.startsWith('hmac-sha256:') && HASH_FORMAT.test(s);
}

/** The id format above, as a character loop: a fresh call id reaches it on every tool span. */
function isIdFormat(s: string): boolean {
  const n = s.length;
  if (n === 36 && s.charCodeAt(8) === 45) {
    return (
      s.charCodeAt(8) === 45 &&
      s.charCodeAt(13) === 45 &&
      s.charCodeAt(18) === 45 &&
      s.charCodeAt(23) === 45 &&
      isHex(s, 0, 8, true) &&
      isHex(s, 9, 13, true) &&
      isHex(s, 14, 18, true) &&
      isHex(s, 19, 23, true) &&
      isHex(s, 24, 36, true)
    );
  }
  return n >= 16 && n <= 64 && isHex(s, 0, n, true);
}

function isHex(s: string, from: number, to: number, anyCase: boolean): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) continue; // 0-9
    if (c >= 97 && c <= 102) continue; // a-f
    if (anyCase && c >= 65 && c <= 70) continue; // A-F
    return false;
  }
  return true;
}

// The same strings recur on every span of a run (run id, agent, principal, tool name, span
// names): remembering which were clean keeps the full rule set off the hot path. Bounded; when
// full it starts over, which costs a rescan, never a missed finding.
const CLEAN_CACHE_MAX = 4096;
const CLEAN_CACHE_MAX_LENGTH = 512;

/**
 * Scans every string attribute, event attribute, the span name and the status message for
 * secrets (and personal data in free text) and replaces findings in place, while the span can
 * still change (`onEnding`) and before either sink sees it. Counts go on the span as
 * `audit.redactions` / `audit.redaction_kinds`.
 */
export class SpanRedactor {
  private readonly fields: ReadonlySet<string>;
  private readonly pii: boolean;
  private readonly cleanWithPii = new Set<string>();
  private readonly cleanSecretsOnly = new Set<string>();
  // Attribute key -> the last value found clean under it. The scan's outcome is a pure function
  // of (key, value) for one redactor, so an attribute holding that very value needs no scan:
  // the run's attribution and the constant names, identical on every span of a run, and each
  // span's own fresh values (call id, input hash) on its second pass (onStart, then onEnding)
  // cost one lookup. Measured against the previous per-span record of clean values (a WeakMap
  // entry per span) and the Set lookups it replaces, see the commit message.
  private readonly lastClean = new Map<string, string>();
  private lastCleanName: string | undefined;

  constructor(options: SpanRedactorOptions = {}) {
    const fields = options.redactFields ?? [];
    if (!Array.isArray(fields) || fields.some((f) => typeof f !== 'string' || f === '')) {
      throw new Error(
        `Configuration: redactFields is invalid, expected an array of attribute names (actual: ${JSON.stringify(fields)})`,
      );
    }
    this.fields = new Set(fields);
    this.pii = options.pii ?? true;
  }

  /** Redacts a span's attributes (and events, name, status); returns the number of values changed. */
  redactSpan(span: Span): number {
    const found: Found = { count: 0, kinds: undefined };
    const attrs = span.attributes;
    const lastClean = this.lastClean;
    const keys = Object.keys(attrs);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const value = attrs[key];
      const str = typeof value === 'string';
      if (str && lastClean.get(key) === value) continue;
      const next = this.redactValue(key, value, found);
      if (next !== undefined) span.setAttribute(key, next);
      else if (str && value.length <= CLEAN_CACHE_MAX_LENGTH) {
        if (lastClean.size >= CLEAN_CACHE_MAX && !lastClean.has(key)) lastClean.clear();
        lastClean.set(key, value);
      }
    }
    for (const event of span.events) {
      if (event.attributes) this.redactAttributesInPlace(event.attributes, found);
    }
    // Span names repeat (`execute_tool search`): the last clean one is remembered, as above.
    if (span.name !== this.lastCleanName) {
      const name = this.redactText(span.name, false, found);
      if (name !== undefined) span.updateName(name);
      else this.lastCleanName = span.name;
    }
    if (span.status.message) {
      const message = this.redactText(span.status.message, true, found);
      if (message !== undefined) span.setStatus({ code: span.status.code, message });
    }
    if (found.count > 0) {
      const previous = attrs[ATTR_AUDIT_REDACTIONS];
      span.setAttribute(
        ATTR_AUDIT_REDACTIONS,
        (typeof previous === 'number' ? previous : 0) + found.count,
      );
      const kinds = new Set(found.kinds);
      const before = attrs[ATTR_AUDIT_REDACTION_KINDS];
      if (Array.isArray(before)) for (const k of before) if (typeof k === 'string') kinds.add(k);
      span.setAttribute(ATTR_AUDIT_REDACTION_KINDS, [...kinds].sort());
    }
    return found.count;
  }

  /** Redacts a plain attributes object in place (span events, a pre-exec record's copy). */
  redactAttributesInPlace(attrs: Attributes, found: RedactionCount | Found): void {
    for (const key of Object.keys(attrs)) {
      const next = this.redactValue(key, attrs[key], found);
      if (next !== undefined) attrs[key] = next;
    }
  }

  /** The replacement for one attribute value, or undefined when it is clean. */
  private redactValue(
    key: string,
    value: AttributeValue | undefined,
    found: Found,
  ): AttributeValue | undefined {
    if (value === undefined || value === null) return undefined;
    if (this.fields.size > 0 && this.fields.has(key)) {
      found.count++;
      found.kinds ??= new Set();
      found.kinds.add('field');
      return '[REDACTED:field]';
    }
    if (typeof value === 'string') {
      const keyClass = KEY_CLASS.get(key);
      if (keyClass === KEY_HASH && isHashFormat(value)) return undefined;
      return this.redactText(value, this.pii && keyClass !== KEY_IDENTITY, found);
    }
    if (Array.isArray(value)) {
      let changed: (string | null | undefined)[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const item = value[i];
        if (typeof item !== 'string') continue;
        const next = this.redactText(item, this.pii, found);
        if (next === undefined) continue;
        changed ??= [...(value as (string | null | undefined)[])];
        changed[i] = next;
      }
      return changed as AttributeValue | undefined;
    }
    return undefined;
  }

  private redactText(text: string, pii: boolean, found: Found): string | undefined {
    if (this.cleanWithPii.has(text) || (!pii && this.cleanSecretsOnly.has(text))) return undefined;
    if (isIdFormat(text)) return undefined;
    const result = redactString(text, { secrets: true, pii });
    const kinds = Object.keys(result.hits) as RedactionKind[];
    if (kinds.length === 0) {
      if (text.length <= CLEAN_CACHE_MAX_LENGTH) {
        const cache = pii ? this.cleanWithPii : this.cleanSecretsOnly;
        if (cache.size >= CLEAN_CACHE_MAX) cache.clear();
        cache.add(text);
      }
      return undefined;
    }
    found.count++;
    found.kinds ??= new Set();
    for (const k of kinds) found.kinds.add(k);
    return result.value;
  }
}
