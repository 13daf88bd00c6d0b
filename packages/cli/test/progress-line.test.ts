import { describe, expect, it } from 'vitest';
import type { CliContext } from '../src/cli-context.js';
import { formatBytes, ProgressLine } from '../src/progress-line.js';

function context(stderrIsTTY: boolean) {
  const err: string[] = [];
  const ctx: CliContext = {
    writeOut: () => {
      throw new Error('progress must never touch stdout');
    },
    writeErr: (text) => err.push(text),
    env: {},
    cwd: '/',
    stderrIsTTY,
    now: () => new Date(),
  };
  return { ctx, err };
}

describe('ProgressLine', () => {
  it('draws and then erases one line on a terminal', () => {
    const { ctx, err } = context(true);
    const line = new ProgressLine(ctx, { delayMs: 0, intervalMs: 0 });
    line.update(() => 'verifying 50%');
    line.done();
    expect(err).toEqual(['\r\x1b[Kverifying 50%', '\r\x1b[K']);
  });

  it('draws nothing when stderr is not a terminal, or before the delay', () => {
    const piped = context(false);
    const a = new ProgressLine(piped.ctx, { delayMs: 0, intervalMs: 0 });
    a.update(() => 'x');
    a.done();
    expect(piped.err).toEqual([]);
    const quick = context(true);
    const b = new ProgressLine(quick.ctx, { delayMs: 60_000 });
    b.update(() => 'x');
    b.done();
    expect(quick.err).toEqual([]);
  });

  it('formats sizes in decimal units', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(57_362)).toBe('57.4 KB');
    expect(formatBytes(188_400_000)).toBe('188.4 MB');
  });
});
