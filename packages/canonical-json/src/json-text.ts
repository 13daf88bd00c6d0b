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
 * surrogate becomes `\udxxx`, which the lenient conversions document; strict callers refuse
 * lone surrogates before quoting).
 */
export function quoteString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** The RFC 8785 form of a finite number (section 3.2.2.3): ECMAScript Number-to-String ("0" for -0). */
export function numberForm(n: number): string {
  return String(n);
}

type WellFormed = (this: string) => boolean;
const nativeIsWellFormed = (String.prototype as { isWellFormed?: WellFormed }).isWellFormed;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether `s` holds a lone surrogate: such a string is not Unicode text, and RFC 8785 (section
 * 3.2.2.2, via I-JSON) requires a canonicalizer to refuse it. Native `isWellFormed` where the
 * engine has it (Node 20+): a one-byte string answers without a scan.
 */
export function hasLoneSurrogate(s: string): boolean {
  return nativeIsWellFormed === undefined ? LONE_SURROGATE.test(s) : !nativeIsWellFormed.call(s);
}
