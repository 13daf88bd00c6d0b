import type { CliContext } from './cli-context.js';
import { escapeValue } from './terminal-text.js';

export interface TableColumn {
  header: string;
  /** Right-align numbers (durations, counts). The default is left. */
  align?: 'left' | 'right';
  /**
   * Which columns go first when the table is wider than the terminal: the highest number is
   * dropped first; 1 is never dropped. The default value is 1.
   */
  priority?: number;
  /** A free-text column that may be cut (ending in `…`) down to this width before any column is dropped. */
  minWidth?: number;
}

/** How a command lays out its tables: the width to fit, or everything (`--wide`). */
export interface Layout {
  /** Columns available. `Infinity` with `--wide`. */
  width: number;
  /** `--wide`: every column, full hashes, nothing cut. */
  wide: boolean;
}

/** The default width when stdout is not a terminal and $COLUMNS is not set. */
export const DEFAULT_COLUMNS = 100;

/** The terminal's width when stdout is one, else $COLUMNS, else 100; `--wide` lifts the limit. */
export function layoutFor(ctx: CliContext, wide: boolean | undefined): Layout {
  if (wide === true) return { width: Number.POSITIVE_INFINITY, wide: true };
  if (ctx.stdoutColumns !== undefined && ctx.stdoutColumns > 0) {
    return { width: ctx.stdoutColumns, wide: false };
  }
  const env = ctx.env.COLUMNS?.trim();
  const columns = env && /^\d+$/.test(env) ? Number(env) : 0;
  return { width: columns >= 20 ? columns : DEFAULT_COLUMNS, wide: false };
}

/** Width in terminal cells, counted in code points (wide CJK glyphs count as one). */
const widthOf = (text: string): number => {
  let n = 0;
  for (const _ of text) n++;
  return n;
};

function cut(text: string, width: number): string {
  if (widthOf(text) <= width) return text;
  return `${[...text].slice(0, Math.max(0, width - 1)).join('')}…`;
}

/**
 * Column widths that fit `limit`. A free-text column gives up to a quarter of its width first
 * (a long span name loses its tail, not its meaning); if that is not enough, the least
 * important column goes (on a tie, the rightmost), and so on; when only columns that are never
 * dropped are left, free text is cut down to each column's `minWidth`.
 */
function fit(columns: TableColumn[], natural: number[], limit: number): Map<number, number> {
  const visible = columns.map((_, i) => i);
  const header = (i: number): number => widthOf(columns[i]?.header ?? '');
  const hardFloor = (i: number): number => {
    const min = columns[i]?.minWidth;
    const n = natural[i] ?? 0;
    return min === undefined ? n : Math.min(n, Math.max(min, header(i)));
  };
  const softFloor = (i: number): number =>
    Math.max(hardFloor(i), Math.ceil((natural[i] ?? 0) * 0.75));
  for (;;) {
    const widths = new Map(visible.map((i) => [i, natural[i] ?? 0]));
    const total = (): number =>
      [...widths.values()].reduce((a, b) => a + b, 0) + 2 * (widths.size - 1);
    if (total() <= limit) return widths;
    const slack = (floor: (i: number) => number): number =>
      visible.reduce((sum, i) => sum + (natural[i] ?? 0) - floor(i), 0);
    const droppable = visible.filter((i) => (columns[i]?.priority ?? 1) > 1);
    if (slack(softFloor) >= total() - limit || droppable.length === 0) {
      const floor = droppable.length === 0 ? hardFloor : softFloor;
      // Cut the widest free-text column, one cell at a time, until it fits (or nothing is left to cut).
      while (total() > limit) {
        let widest = -1;
        for (const i of visible) {
          const w = widths.get(i) ?? 0;
          if (w > floor(i) && (widest < 0 || w > (widths.get(widest) ?? 0))) widest = i;
        }
        if (widest < 0) break;
        widths.set(widest, (widths.get(widest) ?? 0) - 1);
      }
      return widths;
    }
    let drop = droppable[0]!;
    for (const i of droppable) {
      if ((columns[i]?.priority ?? 1) >= (columns[drop]?.priority ?? 1)) drop = i;
    }
    visible.splice(visible.indexOf(drop), 1);
  }
}

/**
 * An aligned plain-text table: two spaces between columns, no trailing blanks, so that it
 * reads in a terminal, survives copy-paste into a ticket and greps line by line. Every cell is
 * escaped for the terminal (terminal-text.ts). Given a width, the table fits it: free-text
 * columns are cut with `…` down to their minimum, then the least important columns are left
 * out, and a last line names them (`--wide` shows them).
 */
export function formatTable(
  columns: TableColumn[],
  rows: string[][],
  width: number = Number.POSITIVE_INFINITY,
): string {
  const cells = rows.map((row) => columns.map((_, i) => escapeValue(row[i] ?? '')));
  const natural = columns.map((column, i) =>
    Math.max(widthOf(column.header), ...cells.map((row) => widthOf(row[i] ?? ''))),
  );
  const widths = fit(columns, natural, width);
  const line = (row: string[]): string =>
    [...widths]
      .map(([i, w]) => {
        const cell = cut(row[i] ?? '', w);
        const pad = ' '.repeat(Math.max(0, w - widthOf(cell)));
        return columns[i]?.align === 'right' ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  const hidden = columns.filter((_, i) => !widths.has(i)).map((c) => c.header);
  const note = hidden.length
    ? wrap(
        `(${hidden.join(', ')} left out to fit ${width} columns: --wide shows every column)`,
        width,
      )
    : '';
  return `${[line(columns.map((c) => c.header)), ...cells.map(line)].join('\n')}\n${note}`;
}

/** Text broken into lines of at most `width` cells at spaces, each line ending in a newline. */
function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && widthOf(line) + 1 + widthOf(word) > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.map((l) => `${l}\n`).join('');
}

/**
 * A hash for a table cell: the algorithm (and key id) and the first 6 hex digits
 * (`sha256:1a2b3c…`), or the whole hash with `--wide`.
 */
export function shortHash(hash: string | null, layout?: Layout): string {
  if (!hash) return '-';
  if (layout?.wide) return hash;
  const at = hash.lastIndexOf(':');
  if (at < 0) return hash.length > 16 ? `${hash.slice(0, 16)}…` : hash;
  const digest = hash.slice(at + 1);
  return digest.length > 6 ? `${hash.slice(0, at + 1)}${digest.slice(0, 6)}…` : hash;
}

/** A duration for humans: 850µs, 12.4ms, 3.2s, 4m05s. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes}m${String(seconds).padStart(2, '0')}s`;
}
