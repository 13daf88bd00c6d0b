import {
  ATTR_AGENT_ID,
  ATTR_APPROVAL_APPROVER,
  ATTR_AUDIT_VIOLATION,
  ATTR_CREDENTIAL_REF,
  ATTR_DECISION_ACTION_KEY,
  ATTR_INPUT_HASH,
  ATTR_INPUT_SHAPE,
  ATTR_OUTPUT_HASH,
  ATTR_TENANT_ID,
  ATTR_TRIGGER_PRINCIPAL,
  ATTR_WORKFLOW_RUN_ID,
  type RedactionKind,
  redactString,
} from '@agent-audit/instrumentation';
import type { Attributes, AttributeValue, Link } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/sdk-trace';
import { unsafeText, unsafeTextCodes } from './unsafe-text.js';

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
  /** UNSAFE_* bits of the strings seen (control characters, bidi overrides). */
  unsafe: number;
  /** Strings with such characters: a change tells the caller not to cache the last one as clean. */
  unsafeStrings: number;
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

// The same for the action key (`ak:<sha256 hex>`, policy.ts) and the input shape
// (`shape:<sha256 hex>`, input-features.ts): a fresh action key per distinct input went through
// every rule, ~1.5-3.5 µs per tool call. 64 hex digits alone are skipped as an id already
// (isIdFormat), so the prefix adds nothing a secret could hide in; any other value of these
// keys (a caller's own action key) is scanned.
const DIGEST_PREFIXES: ReadonlyMap<string, string> = new Map([
  [ATTR_DECISION_ACTION_KEY, 'ak:'],
  [ATTR_INPUT_SHAPE, 'shape:'],
]);

// One lookup classifies a key (instead of one Set per class, per value, per pass).
const KEY_IDENTITY = 1;
const KEY_HASH = 2;
const KEY_DIGEST = 3;
const KEY_CLASS: ReadonlyMap<string, number> = new Map([
  ...[...IDENTITY_KEYS].map((k): [string, number] => [k, KEY_IDENTITY]),
  ...[...HASH_KEYS].map((k): [string, number] => [k, KEY_HASH]),
  ...[...DIGEST_PREFIXES.keys()].map((k): [string, number] => [k, KEY_DIGEST]),
]);

/** `<prefix><64 lowercase hex>` for the key's prefix in DIGEST_PREFIXES. */
function isDigestFormat(key: string, s: string): boolean {
  const prefix = DIGEST_PREFIXES.get(key)!;
  return (
    s.length === prefix.length + 64 &&
    s.startsWith(prefix) &&
    isHex(s, prefix.length, s.length, false)
  );
}

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
// Nested attribute values deeper than this are withheld whole (`[REDACTED:too_deep]`).
const MAX_DEPTH = 32;

/**
 * Scans the span name, every attribute key and string value, every event name and event
 * attribute, every link attribute and the status message for secrets (and personal data in
 * free text) and replaces findings in place, while the span can still change (`onEnding`) and
 * before either sink (store, OTLP) sees it. Counts go on the span as `audit.redactions` /
 * `audit.redaction_kinds`. A key that holds a secret is renamed (its value moves to the
 * redacted key).
 *
 * The same pass flags, without changing them, strings with control characters or bidi
 * overrides (see unsafe-text.ts): `audit.violation` gains `control_characters` /
 * `bidi_override`.
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
  private readonly cleanKeys = new Set<string>();
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

  /**
   * Redacts a span's attributes, events, links, name and status; returns the number of values
   * changed.
   */
  redactSpan(span: Span): number {
    const found: Found = { count: 0, kinds: undefined, unsafe: 0, unsafeStrings: 0 };
    const attrs = span.attributes;
    const lastClean = this.lastClean;
    const keys = Object.keys(attrs);
    for (let i = 0; i < keys.length; i++) {
      let key = keys[i]!;
      const value = attrs[key];
      const str = typeof value === 'string';
      if (str && lastClean.get(key) === value) continue;
      const unsafeBefore = found.unsafeStrings;
      const renamed = this.redactKey(key, attrs, found);
      if (renamed !== undefined) {
        // Straight on the object: setAttribute would count one attribute more against the limit.
        delete (attrs as Record<string, unknown>)[key];
        (attrs as Record<string, unknown>)[renamed] = value;
        key = renamed;
      }
      const next = this.redactValue(key, value, found);
      if (next !== undefined) span.setAttribute(key, next);
      else if (
        str &&
        renamed === undefined &&
        found.unsafeStrings === unsafeBefore &&
        value.length <= CLEAN_CACHE_MAX_LENGTH
      ) {
        if (lastClean.size >= CLEAN_CACHE_MAX && !lastClean.has(key)) lastClean.clear();
        lastClean.set(key, value);
      }
    }
    for (const event of span.events) {
      const name = this.redactText(event.name, this.pii, found);
      if (name !== undefined) event.name = name;
      if (event.attributes) this.redactAttributesInPlace(event.attributes, found);
    }
    for (const link of span.links as Link[]) {
      if (link.attributes) this.redactAttributesInPlace(link.attributes, found);
    }
    // Span names repeat (`execute_tool search`): the last clean one is remembered, as above.
    if (span.name !== this.lastCleanName) {
      const unsafeBefore = found.unsafeStrings;
      const name = this.redactText(span.name, false, found);
      if (name !== undefined) span.updateName(name);
      else if (found.unsafeStrings === unsafeBefore) this.lastCleanName = span.name;
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
    if (found.unsafe !== 0) {
      span.setAttribute(
        ATTR_AUDIT_VIOLATION,
        withCodes(attrs[ATTR_AUDIT_VIOLATION], unsafeTextCodes(found.unsafe)),
      );
    }
    return found.count;
  }

  /**
   * Redacts a plain attributes object in place (span events, links, a pre-exec record's copy):
   * keys and values.
   */
  redactAttributesInPlace(attrs: Attributes, found: RedactionCount | Found): void {
    const f = found as Found;
    f.unsafe ??= 0;
    f.unsafeStrings ??= 0;
    for (let key of Object.keys(attrs)) {
      const value = attrs[key];
      const renamed = this.redactKey(key, attrs, f);
      if (renamed !== undefined) {
        delete attrs[key];
        attrs[renamed] = value;
        key = renamed;
      }
      const next = this.redactValue(key, value, f);
      if (next !== undefined) attrs[key] = next;
    }
  }

  /**
   * The new name of an attribute whose key holds a secret (`[REDACTED:api_key]`, made unique
   * among `attrs`), or undefined for a clean key. Keys repeat on every span: clean ones are
   * remembered.
   */
  private redactKey(
    key: string,
    attrs: Attributes | Record<string, unknown>,
    found: Found,
  ): string | undefined {
    if (this.cleanKeys.has(key)) return undefined;
    const unsafeBefore = found.unsafeStrings;
    const next = this.redactText(key, this.pii, found);
    if (next === undefined) {
      if (found.unsafeStrings === unsafeBefore && key.length <= CLEAN_CACHE_MAX_LENGTH) {
        if (this.cleanKeys.size >= CLEAN_CACHE_MAX) this.cleanKeys.clear();
        this.cleanKeys.add(key);
      }
      return undefined;
    }
    let unique = next;
    for (let n = 2; Object.hasOwn(attrs, unique); n++) unique = `${next}#${n}`;
    return unique;
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
      if (keyClass === KEY_DIGEST && isDigestFormat(key, value)) return undefined;
      return this.redactText(value, this.pii && keyClass !== KEY_IDENTITY, found);
    }
    // sdk-trace 3 keeps AnyValue attributes on spans and links: arrays of any values, maps
    // (OTLP kvlist) and bytes. Every string inside is scanned, map keys too.
    if (typeof value === 'object') {
      return this.redactAny(value, 0, found) as AttributeValue | undefined;
    }
    return undefined;
  }

  /** A copy of `value` with what it holds redacted, or undefined when it is clean. */
  private redactAny(value: unknown, depth: number, found: Found): unknown {
    if (typeof value === 'string') return this.redactText(value, this.pii, found);
    if (typeof value !== 'object' || value === null) return undefined;
    if (depth >= MAX_DEPTH) return withheld('too_deep', found);
    if (value instanceof Uint8Array) {
      // Bytes are shown as base64, never as text: scan their UTF-8 reading for secrets only.
      const text = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
      const kinds = Object.keys(redactString(text, { secrets: true, pii: this.pii }).hits);
      if (kinds.length === 0) return undefined;
      return withheld(kinds.sort()[0]!, found, kinds);
    }
    if (Array.isArray(value)) {
      let changed: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const next = this.redactAny(value[i], depth + 1, found);
        if (next === undefined) continue;
        changed ??= [...value];
        changed[i] = next;
      }
      return changed;
    }
    let changed: Record<string, unknown> | undefined;
    const map = value as Record<string, unknown>;
    for (const key of Object.keys(map)) {
      const renamed = this.redactKey(key, changed ?? map, found);
      const next = this.redactAny(map[key], depth + 1, found);
      if (renamed === undefined && next === undefined) continue;
      changed ??= { ...map };
      if (renamed !== undefined) delete changed[key];
      changed[renamed ?? key] = next === undefined ? map[key] : next;
    }
    return changed;
  }

  private redactText(text: string, pii: boolean, found: Found): string | undefined {
    // Only strings clean of secrets AND of unsafe characters are remembered as clean.
    if (this.cleanWithPii.has(text) || (!pii && this.cleanSecretsOnly.has(text))) return undefined;
    if (isIdFormat(text)) return undefined;
    const unsafe = unsafeText(text);
    if (unsafe !== 0) {
      found.unsafe |= unsafe;
      found.unsafeStrings++;
    }
    const result = redactString(text, { secrets: true, pii });
    const kinds = Object.keys(result.hits) as RedactionKind[];
    if (kinds.length === 0) {
      if (unsafe === 0 && text.length <= CLEAN_CACHE_MAX_LENGTH) {
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

/** Counts a value withheld whole (nested too deep, bytes with a secret) and returns its tag. */
function withheld(kind: string, found: Found, kinds: readonly string[] = [kind]): string {
  found.count++;
  found.kinds ??= new Set();
  for (const k of kinds) found.kinds.add(k);
  return `[REDACTED:${kind}]`;
}

/** `audit.violation` is a string array of codes; keep what is there, add the new ones once. */
function withCodes(existing: AttributeValue | undefined, add: readonly string[]): string[] {
  const codes = Array.isArray(existing)
    ? existing.filter((c): c is string => typeof c === 'string')
    : typeof existing === 'string'
      ? [existing]
      : [];
  for (const code of add) if (!codes.includes(code)) codes.push(code);
  return codes;
}
