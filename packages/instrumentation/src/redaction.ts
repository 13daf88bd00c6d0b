/**
 * A pure secret and PII scanner. The SDK runs it over every string attribute and event
 * attribute in `onEnding`, before the store and before Jaeger; agents may also call it.
 * Counts are returned, never the values found.
 */

export type SecretKind =
  | 'api_key'
  | 'aws_access_key'
  | 'github_token'
  | 'slack_token'
  | 'jwt'
  | 'pem'
  | 'bearer'
  | 'basic_auth'
  | 'url_credentials'
  | 'url_token'
  | 'secret_assignment';

export type PiiKind = 'email' | 'phone' | 'card_number';

export type RedactionKind = SecretKind | PiiKind;

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

interface Rule {
  kind: RedactionKind;
  pii: boolean;
  /** Must be global; may have capture groups, passed to `replace`. */
  re: RegExp;
  /** A cheap test that must pass for the rule to match at all (skips the scan otherwise). */
  hint: (s: string) => boolean;
  /** Replaces one finding; returning the match unchanged means "not a finding". */
  replace: (match: string, ...groups: string[]) => string;
  /**
   * For candidates that need a check (Luhn, separators): the length of the finding at the
   * start of the match, 0 for none. A rejected candidate is retried one character later, so a
   * long non-matching run cannot hide a real finding inside it.
   */
  accept?: (match: string) => number;
}

const tag = (kind: RedactionKind) => `[REDACTED:${kind}]`;
const whole = (kind: RedactionKind) => (): string => tag(kind);
const keepPrefix =
  (kind: RedactionKind) =>
  (_m: string, prefix: string): string =>
    `${prefix}${tag(kind)}`;

// Order matters: whole blocks and structured tokens first, so a JWT inside a Bearer header or a
// key inside a PEM block is counted once, as the outer kind.
const RULES: readonly Rule[] = [
  {
    kind: 'pem',
    pii: false,
    hint: (s) => s.includes('-----BEGIN '),
    re: /-----BEGIN [A-Z0-9 ]{1,40}-----[\s\S]*?(?:-----END [A-Z0-9 ]{1,40}-----|$)/g,
    replace: whole('pem'),
  },
  {
    kind: 'bearer',
    pii: false,
    hint: (s) => /bearer/i.test(s),
    // A digit is required so that prose ("the bearer information") is left alone.
    re: /\b(Bearer\s+)(?=[A-Za-z._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}/gi,
    replace: keepPrefix('bearer'),
  },
  {
    kind: 'basic_auth',
    pii: false,
    hint: (s) => s.includes('Basic'),
    re: /\b(Basic\s+)([A-Za-z0-9+/]{8,}={0,2})/g,
    // Only when it decodes to user:password, so "Basic functionality" stays.
    replace: (m, prefix, b64) => (isBasicCredential(b64) ? `${prefix}${tag('basic_auth')}` : m),
  },
  {
    kind: 'url_credentials',
    pii: false,
    hint: (s) => s.includes('://'),
    re: /\b([a-z][a-z0-9+.-]{1,20}:\/\/)[^\s/?#@:]+:[^\s/?#@]+@/gi,
    replace: (_m, scheme) => `${scheme}${tag('url_credentials')}@`,
  },
  {
    kind: 'jwt',
    pii: false,
    hint: (s) => s.includes('eyJ'),
    // Bounded segments keep text like "eyJ-eyJ-eyJ-…" linear (a JWT header is short).
    re: /\beyJ[A-Za-z0-9_-]{2,512}\.[A-Za-z0-9_-]{2,65536}\.[A-Za-z0-9_-]{0,8192}/g,
    replace: whole('jwt'),
  },
  {
    kind: 'api_key',
    pii: false,
    hint: (s) => /sk-|[skrp]k_|AIza/.test(s),
    re: /\b(?:sk-(?:[A-Za-z0-9]+-){0,3}[A-Za-z0-9_-]{20,}|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|AIza[A-Za-z0-9_-]{35})/g,
    replace: whole('api_key'),
  },
  {
    kind: 'aws_access_key',
    pii: false,
    hint: (s) => /AKIA|ASIA|ABIA|ACCA|AIDA|AROA/.test(s),
    re: /\b(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA)[A-Z0-9]{16}\b/g,
    replace: whole('aws_access_key'),
  },
  {
    kind: 'github_token',
    pii: false,
    hint: (s) => /gh[pousr]_|github_pat_/.test(s),
    re: /\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g,
    replace: whole('github_token'),
  },
  {
    kind: 'slack_token',
    pii: false,
    hint: (s) => s.includes('xox'),
    re: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g,
    replace: whole('slack_token'),
  },
  {
    kind: 'url_token',
    pii: false,
    hint: (s) => s.includes('='),
    re: /([?&;](?:access_token|id_token|refresh_token|token|api_key|apikey|api-key|key|secret|client_secret|password|passwd|pwd|sig|signature|auth|session|sessionid)=)[^&\s#"'<>]+/gi,
    replace: keepPrefix('url_token'),
  },
  {
    kind: 'secret_assignment',
    pii: false,
    hint: (s) => /[:=]/.test(s),
    // The keyword may sit inside a longer name (aws_secret_access_key, DB_PASSWORD), so the
    // match starts at the keyword; a bare "token" is not a keyword, or usage counts such as
    // "input_tokens": 1234 would go. Every run before the value is bounded: no backtracking
    // blow-up on hostile text (see the linear-time tests).
    re: /((?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|private[_-]?key)[\w.-]{0,32}["']?[ \t]{0,8}[:=][ \t]{0,8}["']?)(?!\[REDACTED)[^\s"',;&]{4,}/gi,
    replace: keepPrefix('secret_assignment'),
  },
  {
    kind: 'email',
    pii: true,
    hint: (s) => s.includes('@'),
    re: /\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b/g,
    replace: whole('email'),
  },
  {
    kind: 'card_number',
    pii: true,
    hint: hasDigitRun,
    // Issuer prefixes (Visa, Mastercard, Amex, Discover, JCB, Diners) keep epoch-millisecond
    // times and ids out; no letter may touch the number, so hex digests are left alone.
    re: /(?<![\w.-])(?:4|5[1-5]|2[2-7]|3[04-8]|6[05])\d?(?:[ -]?\d){11,17}(?![\w])/g,
    replace: whole('card_number'),
    accept: cardLength,
  },
  {
    kind: 'phone',
    pii: true,
    hint: hasDigitRun,
    // A leading + or at least one separator is required, so bare ids, epoch times and
    // amounts are not phone numbers; ISO dates are excluded below.
    re: /(?<![\w+.:-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,5}){1,4}(?![\w:-])/g,
    replace: whole('phone'),
    accept: (m) => (isPhone(m) ? m.length : 0),
  },
];

/** Longest prefix of the candidate, ending at a digit group, that is a Luhn-valid card number. */
function cardLength(m: string): number {
  for (let end = m.length; end > 0; end--) {
    if (end < m.length && m[end] !== ' ' && m[end] !== '-') continue;
    const digits = m.slice(0, end).replace(/[ -]/g, '');
    if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits)) return end;
  }
  return 0;
}

function hasDigitRun(s: string): boolean {
  return /\d\d/.test(s);
}

function luhnValid(digits: string): boolean {
  if (digits.length < 13 || digits.length > 19) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$|^\d{4}[./]\d{2}[./]\d{2}$|^\d{2}[./-]\d{2}[./-]\d{4}$/;
const VERSION_LIKE = /^\d+(?:\.\d+){2,3}$/;

function isBasicCredential(b64: string): boolean {
  try {
    return /^[\x20-\x7e]{1,200}:[\x20-\x7e]{1,200}$/.test(
      Buffer.from(b64, 'base64').toString('latin1'),
    );
  } catch {
    return false;
  }
}

function isPhone(m: string): boolean {
  const digits = m.replace(/\D/g, '').length;
  const plus = m.startsWith('+');
  if (ISO_DATE.test(m) || VERSION_LIKE.test(m)) return false;
  if (plus) return digits >= 8 && digits <= 15;
  return digits >= 10 && digits <= 15;
}

// Cheap pre-filter: a string that contains none of these cannot match any rule.
const MAYBE =
  /[-@:=]|\d{3}|Bearer|Basic|eyJ|AKIA|ASIA|ABIA|ACCA|AIDA|AROA|AIza|gh[pousr]_|xox|[skrp]k_/i;

/** Replaces secrets and PII in `s` by `[REDACTED:<kind>]` and counts them. Never throws. */
export function redactString(s: string, options: RedactOptions = {}): RedactResult {
  const hits: Partial<Record<RedactionKind, number>> = {};
  if (typeof s !== 'string' || s.length < 8 || !MAYBE.test(s)) return { value: s, hits };
  const secrets = options.secrets !== false;
  const pii = options.pii !== false;
  let value = s;
  try {
    for (const rule of RULES) {
      if (rule.pii ? !pii : !secrets) continue;
      if (!rule.hint(value)) continue;
      value = applyRule(rule, value, hits);
    }
  } catch {
    // Fail closed: an unscannable string is withheld entirely.
    return { value: tag('api_key'), hits: { api_key: 1 } };
  }
  return { value, hits };
}

function applyRule(
  rule: Rule,
  value: string,
  hits: Partial<Record<RedactionKind, number>>,
): string {
  const re = rule.re;
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
    const groups = m.slice(1).map((g) => g ?? '');
    const replacement = rule.replace(match, ...groups);
    if (replacement !== match) {
      out += value.slice(last, m.index) + replacement;
      last = m.index + match.length;
      hits[rule.kind] = (hits[rule.kind] ?? 0) + 1;
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
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let entropy = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    entropy -= p * Math.log2(p);
  }
  return entropy >= 4;
}
