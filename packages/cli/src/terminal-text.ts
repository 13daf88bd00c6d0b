/**
 * Text from a store or from Jaeger is data written by whoever could write there: printed raw,
 * an escape sequence in a tool name could clear the screen, retitle the window, plant a
 * hyperlink, or (with a bidirectional override) make `rm-prod` read as `dorp-mr`. Every value
 * the CLI shows goes through {@link escapeValue}, and everything it writes to stdout goes
 * through {@link neutralizeOutput} as a last line of defence.
 *
 * Unsafe here: C0 controls (U+0000–U+001F, newline and tab included: inside a value they
 * would forge a line or a column), DEL, C1 controls (U+0080–U+009F, among them the one-byte
 * CSI U+009B), the bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E,
 * U+200F, U+202A–U+202E, U+2066–U+2069), the line and paragraph separators U+2028/U+2029, and
 * lone UTF-16 surrogates (not encodable; Node would print U+FFFD and hide what was there).
 * Without its ESC (or C1) introducer, what is left of an escape sequence is inert text.
 */

function isUnsafe(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x061c ||
    code === 0x200e ||
    code === 0x200f ||
    code === 0x2028 ||
    code === 0x2029 ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

const isHigh = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

const hex4 = (code: number): string => `\\u${code.toString(16).padStart(4, '0')}`;

const C0_NAMES: Record<number, string> = { 9: '\\t', 10: '\\n', 13: '\\r' };

function rewrite(text: string, replace: (code: number) => string | undefined): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    let unsafe = false;
    if (isHigh(code)) {
      if (i + 1 < text.length && isLow(text.charCodeAt(i + 1))) {
        i++; // a well-formed pair: an ordinary astral character
        continue;
      }
      unsafe = true;
    } else if (isLow(code) || isUnsafe(code)) {
      unsafe = true;
    }
    if (!unsafe) continue;
    const replacement = replace(code);
    if (replacement === undefined) continue;
    out += text.slice(from, i) + replacement;
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * One value for display: every unsafe character shown as an escape (`\n`, `\t`, `\r`, `\x1b`
 * for the other C0 controls and DEL, `\u009b`, `\u202e`, `\ud800` for the rest), so that a
 * value always occupies one line of plain text and what was there stays visible.
 */
export function escapeValue(value: string): string {
  return rewrite(value, (code) => {
    if (code < 0x20 || code === 0x7f) {
      return C0_NAMES[code] ?? `\\x${code.toString(16).padStart(2, '0')}`;
    }
    return hex4(code);
  });
}

/**
 * A whole output text (a report, a table, a JSON document): the newlines that lay it out are
 * kept, every other unsafe character becomes a `\uXXXX` escape. In JSON output such characters
 * can only occur inside strings (JSON.stringify already escapes C0 controls and lone
 * surrogates), where `\uXXXX` is the same value: the document parses to the same data.
 */
export function neutralizeOutput(text: string): string {
  return rewrite(text, (code) => (code === 0x0a ? undefined : hex4(code)));
}

/** A value of any type for display (null and undefined as `-`). */
export function displayValue(value: unknown): string {
  if (value === null || value === undefined) return '-';
  return escapeValue(typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value)));
}
