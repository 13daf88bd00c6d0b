/*
 * The leaf forms of RFC 8785, in one place: how a string is quoted and when it needs escaping,
 * how a number is written, and which strings have no canonical form at all.
 */

// Characters that JSON escaping changes: quote, backslash, C0 controls, and surrogates (valid
// pairs pass through JSON.stringify unchanged; only lone ones are escaped, so let it decide).
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must be escaped
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * Whether a UTF-16 code unit is copied into a JSON string as it is, and is one UTF-8 byte:
 * printable ASCII other than quote and backslash. Byte writers test each unit with this and
 * leave every other string to {@link quoteString}.
 */
export function isVerbatimAscii(code: number): boolean {
  return code >= 0x20 && code <= 0x7e && code !== 0x22 && code !== 0x5c;
}

/**
 * The RFC 8785 form of a string (section 3.2.2.2). Strings that need no escaping are quoted as
 * they are; the others go through `JSON.stringify`, whose escaping is exactly the RFC's (a lone
 * surrogate becomes `\udxxx`, in both the lenient and the strict writer).
 */
export function quoteString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** The RFC 8785 form of a finite number (section 3.2.2.3): ECMAScript Number-to-String ("0" for -0). */
export function numberForm(n: number): string {
  return String(n);
}

/**
 * Whether a JSON text written by `JSON.stringify` / {@link quoteString} holds an escaped lone
 * surrogate (`\udxxx`: JSON.stringify escapes a surrogate only when it is lone). Checking the
 * finished text once costs one native scan, instead of a check per string and member name on
 * the hot path; a `\\ud800` that is an escaped backslash followed by text is told apart by
 * counting the backslashes before it.
 */
export function hasEscapedLoneSurrogate(json: string): boolean {
  // Most texts hold no escape at all: a one-character search (the engine's fastest) says so.
  const first = json.indexOf('\\');
  if (first === -1) return false;
  let at = json.indexOf('\\ud', first);
  while (at !== -1) {
    const c = json.charCodeAt(at + 3);
    // d8..df: 8, 9 and a..f.
    if ((c >= 0x38 && c <= 0x39) || (c >= 0x61 && c <= 0x66)) {
      let slashes = 1;
      while (at - slashes >= 0 && json.charCodeAt(at - slashes) === 0x5c) slashes++;
      if (slashes % 2 === 1) return true;
    }
    at = json.indexOf('\\ud', at + 1);
  }
  return false;
}
