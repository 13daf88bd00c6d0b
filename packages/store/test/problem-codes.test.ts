import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { kindOf, PROBLEM_CODES, PROBLEM_EXIT } from '../src/verify/problem-codes.js';

const DOC = path.resolve(import.meta.dirname, '../../../docs/store-format.md');

/** code → exit column of the table under "### Exit codes" in docs/store-format.md. */
function documentedCodes(): Map<string, string> {
  const text = fs.readFileSync(DOC, 'utf8');
  const section = text.slice(text.indexOf('### Exit codes'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| code')));
  const out = new Map<string, string>();
  for (const row of table.split('\n')) {
    const cells = row.split('|').map((c) => c.trim());
    const code = /^`([A-Z_]+)`$/.exec(cells[1] ?? '');
    if (code) out.set(code[1]!, cells[2]!);
  }
  return out;
}

describe('problem codes are the documented ones', () => {
  it('every code verify can report is in the doc table with its exit code, and nothing else is', () => {
    const doc = documentedCodes();
    expect(doc.size).toBeGreaterThan(40);
    for (const code of PROBLEM_CODES) {
      expect(doc.get(code), `${code} in docs/store-format.md`).toBe(String(PROBLEM_EXIT[code]));
    }
    expect([...doc.keys()].sort()).toEqual([...PROBLEM_CODES].sort());
  });

  it('the kind of each code follows its exit code', () => {
    expect(kindOf('CHAIN_BROKEN')).toBe('tampering');
    expect(kindOf('UNSIGNED_TAIL')).toBe('unverifiable');
    expect(kindOf('IO_ERROR')).toBe('io');
    expect(kindOf('TIME_REGRESSION')).toBe('warning');
  });
});
