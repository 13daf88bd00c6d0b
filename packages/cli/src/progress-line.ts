import type { CliContext } from './cli-context.js';
import { escapeValue } from './terminal-text.js';

export interface ProgressLineOptions {
  /** Nothing is drawn before this delay, so small stores print no progress at all. The default value is 300 ms. */
  delayMs?: number;
  /** Minimum time between redraws. The default value is 100 ms. */
  intervalMs?: number;
}

/**
 * A single self-overwriting status line on stderr, drawn only when stderr is a terminal:
 * a log file or a CI capture gets no carriage-return noise.
 */
export class ProgressLine {
  readonly #ctx: CliContext;
  readonly #startedAt: number;
  readonly #delayMs: number;
  readonly #intervalMs: number;
  #lastDrawAt = 0;
  #drawn = false;

  constructor(ctx: CliContext, options: ProgressLineOptions = {}) {
    this.#ctx = ctx;
    this.#startedAt = Date.now();
    this.#delayMs = options.delayMs ?? 300;
    this.#intervalMs = options.intervalMs ?? 100;
  }

  update(render: () => string): void {
    if (!this.#ctx.stderrIsTTY) return;
    const now = Date.now();
    if (now - this.#startedAt < this.#delayMs || now - this.#lastDrawAt < this.#intervalMs) return;
    this.#lastDrawAt = now;
    this.#drawn = true;
    this.#ctx.writeErr(`\r\x1b[K${escapeValue(render())}`);
  }

  /** Erases the line, so the report that follows starts on a clean line. */
  done(): void {
    if (this.#drawn) this.#ctx.writeErr('\r\x1b[K');
    this.#drawn = false;
  }
}

/** 1536 → "1.5 KB"; decimal units, as disk tools print them. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
