/*
 * Principals and ids are what an auditor searches by and what a terminal shows. A value that
 * renders differently from what it is — a C0/C1 control that moves the cursor or rewrites a
 * log line, a bidirectional override that shows `user:evil` as `user:live`, an invisible
 * zero-width or formatting character that makes two names of one person — is refused at
 * capture, never stored. One definition, used by runWorkflow's options, the remote run
 * context (W3C baggage, signed context, MCP `_meta`) and the run tokens.
 */

/** The longest principal or id kept, in UTF-16 code units. */
export const MAX_IDENTITY_LENGTH = 256;

// C0 controls, DEL, C1 controls (U+0080–U+009F); Arabic letter mark; zero-width space, ZWNJ,
// ZWJ, LRM, RLM (U+200B–U+200F); line and paragraph separators, the bidi embeddings and
// overrides (U+2028–U+202E); word joiner and invisible operators (U+2060–U+2064); bidi
// isolates (U+2066–U+2069); deprecated format controls (U+206A–U+206F); BOM/ZWNBSP (U+FEFF);
// interlinear annotation and object replacement controls (U+FFF9–U+FFFB); and lone
// surrogates, which no encoder can write.
const UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u;
const UNSAFE_GLOBAL = new RegExp(UNSAFE.source, 'gu');

/** Why `v` is not acceptable as a principal or id, or undefined when it is. */
export function identityProblem(v: unknown, max: number = MAX_IDENTITY_LENGTH): string | undefined {
  if (typeof v !== 'string') return `not a string (${v === null ? 'null' : typeof v})`;
  if (v.length === 0) return 'empty';
  if (v.length > max) return `${v.length} characters, more than ${max}`;
  const m = UNSAFE.exec(v);
  if (m !== null) {
    const code = m[0].codePointAt(0)!;
    return `contains U+${code.toString(16).toUpperCase().padStart(4, '0')} at index ${m.index} (control, bidirectional or invisible formatting characters are refused)`;
  }
  return undefined;
}

/** True for 1–`max` characters with no control, bidirectional or invisible formatting character. */
export function isSafeIdentity(v: unknown, max: number = MAX_IDENTITY_LENGTH): v is string {
  return identityProblem(v, max) === undefined;
}

/**
 * `v` with every refused character written as `\u{…}` and cut to `max` characters (marked
 * `…`): safe to put in an error message or a log line.
 */
export function escapeIdentity(v: string, max = 80): string {
  const escaped = v.replace(
    UNSAFE_GLOBAL,
    (c) => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`,
  );
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}
