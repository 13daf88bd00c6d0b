export interface TableColumn {
  header: string;
  /** Right-align numbers (durations, counts). The default is left. */
  align?: 'left' | 'right';
}

/**
 * An aligned plain-text table: two spaces between columns, no trailing blanks, so that it
 * reads in a terminal, survives copy-paste into a ticket and greps line by line.
 */
export function formatTable(columns: TableColumn[], rows: string[][]): string {
  const widths = columns.map((column, i) =>
    Math.max(column.header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => {
        const width = widths[i] ?? 0;
        return columns[i]?.align === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return `${[line(columns.map((c) => c.header)), ...rows.map(line)].join('\n')}\n`;
}

/** A hash shortened for a table cell: the algorithm, key id and the first 12 hex digits. */
export function shortHash(hash: string | null): string {
  if (!hash) return '-';
  const at = hash.lastIndexOf(':');
  if (at < 0) return hash.length > 16 ? `${hash.slice(0, 16)}…` : hash;
  const digest = hash.slice(at + 1);
  return digest.length > 12 ? `${hash.slice(0, at + 1)}${digest.slice(0, 12)}…` : hash;
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
