/**
 * A pure secret and PII scanner. The SDK runs it over every string attribute and event
 * attribute in `onEnding`, before the store and before Jaeger; agents may also call it.
 * Counts are returned, never the values found.
 */

import { shannonEntropy } from './redaction-checks.js';
import { REDACTION_RULES, type RedactionKind, type RedactionRule } from './redaction-rules.js';
import { redactUrlCredentials } from './url-credentials.js';

export type { PiiKind, RedactionKind, RedactionRule, SecretKind } from './redaction-rules.js';

export interface RedactOptions {
  /** Redact secrets (API keys, tokens, keys, credentials in URLs). The default value is true. */
  secrets?: boolean;
  /** Mask personal data (emails, phone numbers, Luhn-valid card numbers). The default value is true. */
  pii?: boolean;
}

export interface RedactResult {
  /** The input with every finding replaced by `[REDACTED:<kind>]`. */
  value: string;
  /** Findings per kind; empty when nothing was found. */
  hits: Partial<Record<RedactionKind, number>>;
}

type Hits = Partial<Record<RedactionKind, number>>;

const tag = (kind: RedactionKind) => `[REDACTED:${kind}]`;

// One cheap pass decides whether any row can match at all: most attribute values (names,
// ids, short words) contain none of the keywords and leave here. Built from the table, so a
// new row cannot be forgotten in it.
const PREFILTER = new RegExp(
  [
    ...[...new Set(REDACTION_RULES.flatMap((r) => r.keywords))].map(escapeRegExp),
    ...new Set(REDACTION_RULES.flatMap((r) => (r.hint ? [r.hint.source] : []))),
  ].join('|'),
  'i',
);

function escapeRegExp(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replaces secrets and PII in `s` by `[REDACTED:<kind>]` and counts them. Never throws. */
export function redactString(s: string, options: RedactOptions = {}): RedactResult {
  const hits: Hits = {};
  if (typeof s !== 'string' || s.length < 8 || !PREFILTER.test(s)) return { value: s, hits };
  const secrets = options.secrets !== false;
  const pii = options.pii !== false;
  let value = s;
  try {
    // Keywords are looked up in the original text: a replacement only ever adds a tag, which
    // no row should match, so a row skipped on the original has nothing to find later.
    const lower = s.toLowerCase();
    for (const rule of REDACTION_RULES) {
      if (rule.pii ? !pii : !secrets) continue;
      if (!mayMatch(rule, lower, value)) continue;
      value =
        rule.scan === 'url_credentials'
          ? redactUrlCredentials(value, () => count(hits, rule.kind))
          : applyRule(rule, value, hits);
    }
  } catch {
    // Fail closed: an unscannable string is withheld entirely.
    return { value: tag('api_key'), hits: { api_key: 1 } };
  }
  return { value, hits };
}

function mayMatch(rule: RedactionRule, lower: string, value: string): boolean {
  if (rule.hint) return rule.hint.test(value);
  for (const k of rule.keywords) if (lower.includes(k)) return true;
  return false;
}

function count(hits: Hits, kind: RedactionKind): void {
  hits[kind] = (hits[kind] ?? 0) + 1;
}

function applyRule(rule: RedactionRule, value: string, hits: Hits): string {
  const re = rule.re!;
  re.lastIndex = 0;
  let out = '';
  let last = 0;
  for (let m = re.exec(value); m !== null; m = re.exec(value)) {
    let match = m[0];
    if (rule.accept !== undefined) {
      const n = rule.accept(match);
      if (n === 0) {
        re.lastIndex = m.index + 1;
        continue;
      }
      match = match.slice(0, n);
    }
    const kept = rule.keep ? (m[1] ?? '') : '';
    // A rejected candidate is skipped whole: retrying inside it could make a row quadratic.
    if (rule.check === undefined || rule.check(match.slice(kept.length), kept)) {
      out += value.slice(last, m.index) + kept + tag(rule.kind);
      last = m.index + match.length;
      count(hits, rule.kind);
    }
    re.lastIndex = Math.max(m.index + match.length, m.index + 1);
  }
  return last === 0 ? value : out + value.slice(last);
}

/**
 * True when `s` contains a secret (by the rules of {@link redactString}) or, as a whole, looks
 * like a random token (long, mixed case and digits, high entropy). Used to refuse a
 * `credential.ref` that is really a credential.
 */
export function looksLikeSecret(s: string): boolean {
  if (typeof s !== 'string') return false;
  const { hits } = redactString(s, { pii: false });
  if (Object.keys(hits).length > 0) return true;
  return looksRandom(s.trim());
}

function looksRandom(s: string): boolean {
  if (s.length < 24 || !/^[A-Za-z0-9+/=_-]+$/.test(s)) return false;
  if (!/[a-z]/.test(s) || !/[A-Z]/.test(s) || !/\d/.test(s)) return false;
  return shannonEntropy(s) >= 4;
}
