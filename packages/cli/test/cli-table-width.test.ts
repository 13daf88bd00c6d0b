import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTable, layoutFor, shortHash } from '../src/format-table.js';
import { runCli } from './support/run-cli.js';
import { writeStore } from './support/write-store.js';

const cells = (line: string): number => [...line].length;

/** The rows of every table in a text: from a header line starting with TIME to the blank line. */
function tableLines(text: string): string[] {
  const out: string[] = [];
  let inTable = false;
  for (const line of text.split('\n')) {
    if (/^\s*(TIME|RUN ID)\s/.test(line)) inTable = true;
    else if (line.trim() === '') inTable = false;
    if (inTable) out.push(line);
  }
  return out;
}

describe('tables fit the terminal', () => {
  const root = mkdtempSync(join(tmpdir(), 'cli-width-'));
  const env = {
    AGENT_AUDIT_STORE_DIR: join(root, 'store'),
    AGENT_AUDIT_TRUST_DIR: join(root, 'trust'),
  };

  beforeAll(() =>
    writeStore(env.AGENT_AUDIT_STORE_DIR, env.AGENT_AUDIT_TRUST_DIR, [{ runId: 'run-a' }]),
  );
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  for (const columns of [80, 120]) {
    it(`trail at ${columns} columns: every line fits, the essential columns stay, the rest is named`, async () => {
      const r = await runCli(['trail', 'run-a'], { env: { ...env, COLUMNS: String(columns) } });
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n').slice(3); // after the two header lines and the blank
      expect(lines.length).toBeGreaterThan(10);
      for (const line of lines) expect(cells(line), line).toBeLessThanOrEqual(columns);
      const header = lines[0]!;
      for (const column of ['TIME', 'SPAN', 'DECISION', 'STATUS']) expect(header).toContain(column);
      expect(r.stdout.replace(/\s+/g, ' ')).toContain(
        `left out to fit ${columns} columns: --wide shows every column)`,
      );
      // A span whose status OpenTelemetry left unset reads "ok".
      expect(lines.find((l) => l.includes('chat scripted-1'))).toMatch(/\sok(\s|$)/);
      expect(r.stdout).not.toMatch(/\sunset(\s|$)/m);
    });

    it(`explain at ${columns} columns: every table row fits`, async () => {
      const r = await runCli(['explain', 'run-a'], { env: { ...env, COLUMNS: String(columns) } });
      expect(r.code).toBe(0);
      const rows = tableLines(r.stdout);
      expect(rows.length).toBeGreaterThan(8);
      for (const line of rows) expect(cells(line), line).toBeLessThanOrEqual(columns);
    });
  }

  it('120 columns keep more than 80', async () => {
    const header = async (columns: number) =>
      (await runCli(['trail', 'run-a'], { env: { ...env, COLUMNS: String(columns) } })).stdout
        .split('\n')
        .find((l) => l.startsWith('TIME'))!
        .split(/\s{2,}/).length;
    expect(await header(120)).toBeGreaterThan(await header(80));
  });

  it('--wide prints every column, full hashes, nothing cut', async () => {
    const r = await runCli(['trail', 'run-a', '--wide'], { env: { ...env, COLUMNS: '80' } });
    expect(r.code).toBe(0);
    const header = r.stdout.split('\n').find((l) => l.startsWith('TIME'))!;
    expect(header.split(/\s+/)).toEqual([
      'TIME',
      'PROCESS',
      'AGENT',
      'KIND',
      'SPAN',
      'TOOL',
      'DECISION',
      'CREDENTIAL',
      'INPUT',
      'OUTPUT',
      'STATUS',
      'DURATION',
    ]);
    expect(r.stdout).toContain(`sha256:${'4'.repeat(64)}`);
    expect(r.stdout).not.toContain('…');
    expect(r.stdout).not.toContain('left out');
    const explain = await runCli(['explain', 'run-a', '--wide'], {
      env: { ...env, COLUMNS: '80' },
    });
    expect(explain.stdout).not.toContain('left out');
    expect(explain.stdout).toContain(`sha256:${'4'.repeat(64)}`);
  });

  it('without a terminal or $COLUMNS the width is 100', () => {
    const ctx = { env: {}, stdoutColumns: undefined } as unknown as Parameters<typeof layoutFor>[0];
    expect(layoutFor(ctx, false)).toEqual({ width: 100, wide: false });
    expect(layoutFor({ ...ctx, env: { COLUMNS: '132' } }, false).width).toBe(132);
    expect(layoutFor({ ...ctx, env: { COLUMNS: 'wide' } }, false).width).toBe(100);
    expect(layoutFor({ ...ctx, stdoutColumns: 90, env: { COLUMNS: '132' } }, false).width).toBe(90);
    expect(layoutFor(ctx, true)).toEqual({ width: Number.POSITIVE_INFINITY, wide: true });
  });

  it('hashes are cut to the algorithm and 6 hex digits', () => {
    expect(shortHash(`sha256:${'1a2b3c4d'.repeat(8)}`)).toBe('sha256:1a2b3c…');
    expect(shortHash(`hmac-sha256:k1:${'ab'.repeat(32)}`)).toBe('hmac-sha256:k1:ababab…');
    expect(shortHash(`sha256:${'ab'.repeat(32)}`, { width: 80, wide: true })).toBe(
      `sha256:${'ab'.repeat(32)}`,
    );
  });

  it('cuts free text a little before dropping, drops by priority, never drops priority 1', () => {
    const columns = [
      { header: 'A' },
      { header: 'NOTE', minWidth: 4 },
      { header: 'EXTRA', priority: 5 },
    ];
    const row = ['a', 'n'.repeat(20), 'e'.repeat(10)];
    expect(formatTable(columns, [row], 35)).toContain('e'.repeat(10)); // fits as is
    const cut = formatTable(columns, [row], 32); // 3 too wide: the note loses 3 cells
    expect(cut).toContain(`${'n'.repeat(16)}…`);
    expect(cut).toContain('e'.repeat(10));
    const dropped = formatTable(columns, [row], 20);
    expect(dropped.split('\n')[0]).toBe('A  NOTE');
    expect(dropped.replace(/\s+/g, ' ')).toContain('(EXTRA left out to fit 20 columns');
    const squeezed = formatTable(columns, [row], 8);
    expect(squeezed.split('\n')[0]).toBe('A  NOTE');
  });
});
