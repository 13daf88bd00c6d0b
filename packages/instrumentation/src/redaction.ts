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

// One scan for every rule's keywords decides which rows run: most attribute values (names,
// ids, short words) contain none and leave after it. A single alternation regex costs a
// fraction of one `includes` per keyword on long values (base64 images, documents). Built from
// the table, so a new row cannot be forgotten in it.
//
// Longest keywords first, so at one position the longest wins; every row with a keyword inside
// the one found (`sk` inside `sk-`, `accesskey` inside `sharedaccesskey`) is marked with it,
// and the scan resumes one character later, so overlapping keywords are all seen.
const KEYWORDS = [...new Set(REDACTION_RULES.flatMap((r) => r.keywords))].sort(
  (x, y) => y.length - x.length,
);
const KEYWORD_RE = new RegExp(KEYWORDS.map(escapeRegExp).join('|'), 'gi');
const RULES_BY_KEYWORD: ReadonlyMap<string, readonly number[]> = new Map(
  KEYWORDS.map((k) => [
    k,
    REDACTION_RULES.flatMap((r, i) => (r.keywords.some((rk) => k.includes(rk)) ? [i] : [])),
  ]),
);
const KEYWORD_RULES = REDACTION_RULES.filter((r) => r.keywords.length > 0).length;

function escapeRegExp(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Which rows may match `s`: those with a keyword in it, and hint rows whose hint passes. */
function candidateRules(s: string): boolean[] | undefined {
  let marked: boolean[] | undefined;
  let count = 0;
  KEYWORD_RE.lastIndex = 0;
  for (let m = KEYWORD_RE.exec(s); m !== null; m = KEYWORD_RE.exec(s)) {
    for (const i of RULES_BY_KEYWORD.get(m[0].toLowerCase()) ?? []) {
      marked ??= new Array<boolean>(REDACTION_RULES.length).fill(false);
      if (!marked[i]) {
        marked[i] = true;
        count++;
      }
    }
    if (count === KEYWORD_RULES) break;
    KEYWORD_RE.lastIndex = m.index + 1;
  }
  for (let i = 0; i < REDACTION_RULES.length; i++) {
    const hint = REDACTION_RULES[i]!.hint;
    if (hint?.test(s)) {
      marked ??= new Array<boolean>(REDACTION_RULES.length).fill(false);
      marked[i] = true;
    }
  }
  return marked;
}

/** Replaces secrets and PII in `s` by `[REDACTED:<kind>]` and counts them. Never throws. */
export function redactString(s: string, options: RedactOptions = {}): RedactResult {
  const hits: Hits = {};
  if (typeof s !== 'string' || s.length < 8) return { value: s, hits };
  const secrets = options.secrets !== false;
  const pii = options.pii !== false;
  let value = s;
  try {
    // Keywords are looked up in the original text: a replacement only ever adds a tag, which
    // no row should match, so a row skipped on the original has nothing to find later.
    const candidates = candidateRules(s);
    if (candidates === undefined) return { value: s, hits };
    for (let i = 0; i < REDACTION_RULES.length; i++) {
      if (!candidates[i]) continue;
      const rule = REDACTION_RULES[i]!;
      if (rule.pii ? !pii : !secrets) continue;
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
