import {
  VIOLATION_BIDI_OVERRIDE,
  VIOLATION_CONTROL_CHARACTERS,
} from '@agent-audit/instrumentation/attributes';

/**
 * Characters that can attack whoever later reads a recorded value on a terminal or in a
 * review: control characters (cursor moves, screen clears, OSC titles and hyperlinks, a lone
 * carriage return that overwrites the line) and bidirectional overrides and isolates
 * (Trojan Source, CVE-2021-42574). At capture they are flagged, never changed: the recorded
 * value, and every hash over it, stays what the agent saw; displays escape them.
 *
 * Flagged:
 * - C0 controls U+0000–U+001F except TAB, LF, and CR directly before LF (CRLF line ends are
 *   ordinary text); ESC (U+001B) is among them, so every ANSI/OSC sequence is.
 * - DEL U+007F and the C1 controls U+0080–U+009F (CSI U+009B and OSC U+009D act like ESC [ and
 *   ESC ] on many terminals).
 * - Bidi embeddings and overrides U+202A–U+202E and isolates U+2066–U+2069.
 * Not flagged: the marks U+200E/U+200F/U+061C, which right-to-left text legitimately holds
 * and which cannot reorder text on their own.
 */

export { VIOLATION_BIDI_OVERRIDE, VIOLATION_CONTROL_CHARACTERS };

export const UNSAFE_CONTROL = 1;
export const UNSAFE_BIDI = 2;

/** A bit set of UNSAFE_CONTROL and UNSAFE_BIDI; 0 for ordinary text. One pass, no allocation. */
export function unsafeText(s: string): number {
  let flags = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) continue; // printable ASCII: the common case
    if (c < 0x20) {
      if (c === 0x09 || c === 0x0a) continue;
      if (c === 0x0d && s.charCodeAt(i + 1) === 0x0a) continue;
      flags |= UNSAFE_CONTROL;
    } else if (c <= 0x9f) {
      flags |= UNSAFE_CONTROL; // DEL and C1
    } else if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) {
      flags |= UNSAFE_BIDI;
    }
    if (flags === (UNSAFE_CONTROL | UNSAFE_BIDI)) break;
  }
  return flags;
}

/** The violation codes for a bit set from {@link unsafeText}. */
export function unsafeTextCodes(flags: number): string[] {
  const codes: string[] = [];
  if (flags & UNSAFE_CONTROL) codes.push(VIOLATION_CONTROL_CHARACTERS);
  if (flags & UNSAFE_BIDI) codes.push(VIOLATION_BIDI_OVERRIDE);
  return codes;
}
