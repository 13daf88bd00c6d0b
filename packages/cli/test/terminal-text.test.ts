import { describe, expect, it } from 'vitest';
import { formatTable } from '../src/format-table.js';
import { escapeHtml } from '../src/html-report.js';
import { escapeValue, neutralizeOutput } from '../src/terminal-text.js';
import { unsafeBytes, unsafeCharacters } from './support/terminal-safety.js';

// Every attack the CLI must not pass to a terminal, one per class.
const ATTACKS = {
  clearScreen: 'a\x1b[2Jb',
  osc8Link: '\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\',
  oscTitle: '\x1b]0;pwned\x07',
  c1Csi: 'x\u009b31my',
  del: 'x\x7fy',
  bidiOverride: 'user:\u202egnp.exe',
  bidiIsolate: '\u2066evil\u2069',
  marks: '\u200e\u200f\u061c',
  forgedLine: 'ok\nFAKE LINE\r\tz',
  separators: 'a\u2028b\u2029c',
  loneSurrogate: 'a\ud800b\udc00c',
};

describe('escapeValue', () => {
  it('shows each control, override and lone surrogate as an escape, on one line', () => {
    for (const [name, attack] of Object.entries(ATTACKS)) {
      const shown = escapeValue(attack);
      expect(unsafeCharacters(shown), name).toEqual([]);
      expect(shown, name).not.toContain('\n');
    }
    expect(escapeValue(ATTACKS.clearScreen)).toBe('a\\x1b[2Jb');
    expect(escapeValue(ATTACKS.c1Csi)).toBe('x\\u009b31my');
    expect(escapeValue(ATTACKS.bidiOverride)).toBe('user:\\u202egnp.exe');
    expect(escapeValue(ATTACKS.forgedLine)).toBe('ok\\nFAKE LINE\\r\\tz');
    expect(escapeValue(ATTACKS.loneSurrogate)).toBe('a\\ud800b\\udc00c');
    expect(escapeValue(ATTACKS.oscTitle)).toBe('\\x1b]0;pwned\\x07');
  });

  it('leaves ordinary text alone, emoji and other scripts included, and is idempotent', () => {
    for (const text of ['support-agent', 'naïve café', '日本語', '👍🏽 ok', 'שלום', 'C:\\path']) {
      expect(escapeValue(text)).toBe(text);
    }
    const once = escapeValue(Object.values(ATTACKS).join(''));
    expect(escapeValue(once)).toBe(once);
  });
});

describe('neutralizeOutput', () => {
  it('keeps the layout newlines and nothing else unsafe', () => {
    const text = `line 1\n${Object.values(ATTACKS).join('|')}\nline 3\n`;
    const out = neutralizeOutput(text);
    expect(out.split('\n')).toHaveLength(text.split('\n').length); // layout, the forged one included
    expect(unsafeCharacters(out)).toEqual([]);
    expect(unsafeBytes(Buffer.from(out))).toEqual([]);
  });

  it('keeps JSON valid and equal to what it was (C1, DEL, bidi and separators are not escaped by JSON.stringify)', () => {
    const value = { ...ATTACKS, nested: [ATTACKS.c1Csi, { k: ATTACKS.bidiOverride }] };
    const json = JSON.stringify(value, null, 2);
    expect(unsafeCharacters(json)).not.toEqual([]); // what stringify leaves raw
    const safe = neutralizeOutput(json);
    expect(unsafeCharacters(safe)).toEqual([]);
    expect(JSON.parse(safe)).toEqual(value);
  });
});

describe('formatTable', () => {
  it('escapes every cell, so a value cannot add a line or a column', () => {
    const table = formatTable(
      [{ header: 'A' }, { header: 'B' }],
      [[ATTACKS.forgedLine, ATTACKS.oscTitle]],
    );
    expect(table.split('\n')).toHaveLength(3);
    expect(table).not.toMatch(/^FAKE LINE/m);
    expect(unsafeCharacters(table)).toEqual([]);
  });
});

describe('escapeHtml', () => {
  it('renders controls and bidi overrides as visible text, not as markup or reordering', () => {
    const html = escapeHtml(`<b>${ATTACKS.bidiOverride}${ATTACKS.clearScreen}</b>`);
    expect(html).toBe('&#60;b&#62;user:\\u202egnp.exea\\x1b[2Jb&#60;/b&#62;');
  });
});
