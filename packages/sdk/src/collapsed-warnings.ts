import type { DiagLogger } from '@opentelemetry/api';

/**
 * Counts warnings by kind and logs only the first of each kind, so a misconfigured agent that
 * makes 10k bad tool calls produces one line, not 10k; `summarize()` then logs one counted line
 * per kind ("N times: …") at shutdown.
 */
export class CollapsedWarnings {
  private readonly counts = new Map<string, { count: number; message: string }>();

  constructor(private readonly logger: DiagLogger) {}

  warn(kind: string, message: string): void {
    const entry = this.counts.get(kind);
    if (entry) {
      entry.count++;
      return;
    }
    this.counts.set(kind, { count: 1, message });
    this.logger.warn(`${message} (further occurrences of "${kind}" are counted, not logged)`);
  }

  count(kind: string): number {
    return this.counts.get(kind)?.count ?? 0;
  }

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [kind, { count }] of this.counts) out[kind] = count;
    return out;
  }

  summarize(): void {
    for (const [kind, { count, message }] of this.counts) {
      if (count > 1) this.logger.warn(`${count} times "${kind}": ${message}`);
    }
  }
}
