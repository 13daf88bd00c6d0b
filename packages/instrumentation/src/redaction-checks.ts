/**
 * Candidate checks for the redaction rules: entropy, mixed case, Luhn, decodings. Pure; each
 * runs only on a regex candidate (a few dozen characters), never on the whole text.
 */

/** Shannon entropy in bits per character. */
export function shannonEntropy(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let entropy = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    entropy -= p * Math.log2(p);
  }
  return entropy;
}

/** A check that passes when the candidate has at least `bits` of entropy per character. */
export const minEntropy =
  (bits: number) =>
  (candidate: string): boolean =>
    shannonEntropy(candidate) >= bits;

/** Upper- and lower-case letters both present (generated tokens; words and ids are one case). */
export function hasMixedCase(s: string): boolean {
  return /[a-z]/.test(s) && /[A-Z]/.test(s);
}

/** Longest prefix of the candidate, ending at a digit group, that is a Luhn-valid card number. */
export function cardLength(m: string): number {
  for (let end = m.length; end > 0; end--) {
    if (end < m.length && m[end] !== ' ' && m[end] !== '-') continue;
    const digits = m.slice(0, end).replace(/[ -]/g, '');
    if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits)) return end;
  }
  return 0;
}

export function luhnValid(digits: string): boolean {
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

/** Length of the phone number at the start of the candidate, 0 when it is not one. */
export function phoneLength(m: string): number {
  // A loop, not replace() and a Set: rejected candidates are retried one character later, so
  // on hostile digit runs this runs at nearly every position.
  let digits = 0;
  let seen = 0;
  for (let i = 0; i < m.length; i++) {
    const d = m.charCodeAt(i) - 48;
    if (d >= 0 && d <= 9) {
      digits++;
      seen |= 1 << d;
    }
  }
  // Byte dumps (`<Buffer 00 00 00 00 00>`, `61 61 61 61 61`) are not phone numbers.
  if (bitCount(seen) < 3) return 0;
  const ok =
    m.charCodeAt(0) === 43 /* + */ ? digits >= 8 && digits <= 15 : digits >= 10 && digits <= 15;
  if (!ok || ISO_DATE.test(m) || VERSION_LIKE.test(m)) return 0;
  return m.length;
}

function bitCount(n: number): number {
  let c = 0;
  for (let v = n; v !== 0; v &= v - 1) c++;
  return c;
}

/** True when the base64 text decodes to printable `user:password` (an HTTP Basic credential). */
export function isBasicCredential(b64: string): boolean {
  try {
    return /^[\x20-\x7e]{1,200}:[\x20-\x7e]{1,200}$/.test(
      Buffer.from(b64, 'base64').toString('latin1'),
    );
  } catch {
    return false;
  }
}

// Values after `password=` / `secret:` that are not secrets: placeholders, types, references to
// where the secret lives (an environment variable, a file, a code expression).
const PLACEHOLDER =
  /^(?:null|nil|none|true|false|undefined|string|number|boolean|required|optional|empty|redacted|changeme|\*+|x+|\.+|<[^>]*>?|\{\{[^}]*\}?\}?|\$\{[^}]*\}?|\$[A-Z_][A-Z0-9_]*|%[A-Z_]+%?)$/i;
const CODE_REFERENCE = /^[A-Za-z_$][\w$]*(?:\??\.[A-Za-z_$][\w$]*)+$|^[A-Za-z_$][\w$.]*[([]/;
const FILE_PATH = /^(?:\/|\.{1,2}\/|~\/)[\w.-]*\/[\w./-]*$/;

/**
 * False for what follows a secret keyword but is not a secret: `password: string`,
 * `secret=${SECRET}`, `api_key: process.env.API_KEY`, `password_file=/run/secrets/db`.
 * A real password of that exact shape (`/abc/def`, `my.pass`) is the price; see the README.
 */
export function isSecretValue(value: string): boolean {
  const v = value.replace(/["'`)\]}]+$/, '');
  return !(PLACEHOLDER.test(v) || CODE_REFERENCE.test(v) || FILE_PATH.test(v));
}

// The last word of a name that describes a secret without holding it: `api_key_id`,
// `password_changed_at`, `secret_ref`, `SECRET_NAME`, `password_min_length`, `token_count`.
const METADATA_WORD =
  /(?:^|[_-])(?:id|ids|at|ref|refs|name|names|count|length|len|min|max|policy|file|path|type|version|hash|arn|label|field|expiry|expires|rotation|rotated|enabled|required|hint|prompt|reset|strength|url|uri|endpoint|store|provider|manager|source|limit|usage|ttl|timeout|format|header|param|mode)["']?$/i;

/** False for names like `api_key_id = …` or `secretary: …` whose value is not the secret. */
export function isSecretName(kept: string): boolean {
  const name = kept.replace(/["']?[ \t]*[:=][ \t]*["']?$/, '');
  return !METADATA_WORD.test(name) && !/secretar/i.test(name);
}

/** For `token: …`: opaque, long, with letters and digits and some entropy (not a word or count). */
export function isOpaqueToken(value: string): boolean {
  return (
    value.length >= 16 &&
    /[A-Za-z]/.test(value) &&
    /\d/.test(value) &&
    isSecretValue(value) &&
    shannonEntropy(value) >= 3
  );
}
