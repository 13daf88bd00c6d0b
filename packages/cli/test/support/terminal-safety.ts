/**
 * What a terminal may act on instead of printing, found in output the CLI wrote. Newline is
 * allowed (output is laid out in lines); everything else in the list is a finding.
 */

function isUnsafeCode(code: number): boolean {
  return (
    (code < 0x20 && code !== 0x0a) ||
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

/** Unsafe characters in a string, lone surrogates included, as `U+XXXX@index`. */
export function unsafeCharacters(text: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const high = code >= 0xd800 && code <= 0xdbff;
    const low = code >= 0xdc00 && code <= 0xdfff;
    if (high && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    if (high || low || isUnsafeCode(code)) {
      found.push(`U+${code.toString(16).padStart(4, '0')}@${i}`);
    }
  }
  return found;
}

/**
 * Unsafe sequences in raw UTF-8 output bytes: C0 controls but newline, DEL, C1 controls
 * (C2 80–C2 9F), the bidi marks, embeddings, overrides and isolates, U+2028/U+2029, and
 * U+FFFD (what a lone surrogate became on the way out: the value was not shown as it was).
 */
export function unsafeBytes(bytes: Uint8Array): string[] {
  const found: string[] = [];
  const hex = (from: number, n: number) =>
    Array.from(bytes.subarray(from, from + n), (b) => b.toString(16).padStart(2, '0')).join(' ');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    const b1 = bytes[i + 1] ?? -1;
    const b2 = bytes[i + 2] ?? -1;
    if ((b < 0x20 && b !== 0x0a) || b === 0x7f) found.push(`${hex(i, 1)}@${i}`);
    else if (b === 0xc2 && b1 >= 0x80 && b1 <= 0x9f) found.push(`${hex(i, 2)}@${i}`);
    else if (b === 0xd8 && b1 === 0x9c) found.push(`${hex(i, 2)}@${i}`);
    else if (
      b === 0xe2 &&
      ((b1 === 0x80 && (b2 === 0x8e || b2 === 0x8f || (b2 >= 0xa8 && b2 <= 0xae))) ||
        (b1 === 0x81 && b2 >= 0xa6 && b2 <= 0xa9))
    )
      found.push(`${hex(i, 3)}@${i}`);
    else if (b === 0xef && b1 === 0xbf && b2 === 0xbd) found.push(`${hex(i, 3)}@${i}`);
    else if (b === 0xed && b1 >= 0xa0 && b1 <= 0xbf) found.push(`${hex(i, 3)}@${i}`);
  }
  return found;
}
