import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AuditStore, openSegmentReader, type StoredRecord } from '@agent-audit/store';
import type { Alert } from './alert.js';

/** An alert as read back from the watcher's store, with where it is. */
export interface StoredAlert {
  seq: number;
  time: string;
  alert: Alert;
}

function isAlert(value: unknown): value is Alert {
  const v = value as Partial<Alert> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.id === 'string' &&
    typeof v.pattern === 'string' &&
    Array.isArray(v.run_ids)
  );
}

/**
 * Alerts of the watcher's store from `seq` on (hash-checked by the store's reader), at most
 * `limit` records read; `nextSeq` is where to go on.
 */
export function readAlerts(
  dir: string,
  seq = 1,
  limit = 10_000,
  upTo = Infinity,
): { alerts: StoredAlert[]; nextSeq: number } {
  const reader = openSegmentReader(dir);
  try {
    const out: StoredAlert[] = [];
    let next = seq;
    for (;;) {
      const records: StoredRecord[] = reader.recordsFrom(next, Math.min(1000, limit));
      let done = records.length === 0;
      for (const r of records) {
        if (r.seq > upTo) {
          done = true;
          break;
        }
        if (r.type === 'alert' && isAlert(r.payload))
          out.push({ seq: r.seq, time: r.time, alert: r.payload });
        next = r.seq + 1;
      }
      if (done || out.length >= limit) break;
    }
    return { alerts: out, nextSeq: next };
  } finally {
    reader.close();
  }
}

/**
 * The watcher's own audit store: every alert is an `alert` record, hash-chained and signed
 * like any other record (checkpoints under the key in its trust directory), so
 * `agent-audit verify --store <dir>` verifies the alerts and `agent-audit alerts` lists them.
 */
export class AlertStore {
  readonly dir: string;
  readonly #store: AuditStore;
  readonly #known = new Set<string>();

  constructor(dir: string, trustDir: string, onNotice?: (message: string) => void) {
    this.dir = dir;
    // The ids already stored (a restart must not append them again): read before opening.
    if (existsSync(join(dir, 'segments'))) {
      let stored: StoredAlert[];
      try {
        stored = readAlerts(dir, 1, Number.MAX_SAFE_INTEGER).alerts;
      } catch (error) {
        throw new Error(
          `cannot read the alert store ${dir} (${(error as Error).message}); check it with AGENT_AUDIT_TRUST_DIR=${trustDir} agent-audit verify --store ${dir}, and move it aside to start a new alert store`,
        );
      }
      for (const { alert } of stored) this.#known.add(alert.id);
    }
    this.#store = AuditStore.open({
      dir,
      trustDir,
      onNotice: onNotice ? (n) => onNotice(`alert store ${dir}: ${n.message}`) : undefined,
    });
  }

  /** The durable head: every alert at or below it was acknowledged by an fdatasync. */
  get headSeq(): number {
    return this.#store.head.seq;
  }

  has(id: string): boolean {
    return this.#known.has(id);
  }

  /**
   * Appends the alerts not already in the store (same id = same evidence) and resolves once
   * they are durable. Returns the ones appended.
   */
  async append(alerts: Alert[]): Promise<Alert[]> {
    const fresh: Alert[] = [];
    for (const a of alerts) {
      if (this.#known.has(a.id)) continue;
      this.#known.add(a.id);
      fresh.push(a);
    }
    if (fresh.length === 0) return fresh;
    await this.#store.appendBatch(
      fresh.map((a) => ({
        type: 'alert' as const,
        tags: {
          agent: a.agent_id,
          tool: a.tool,
          ...(a.run_ids[0] ? { run: a.run_ids[0] } : {}),
          ...(a.tenant ? { tenant: a.tenant } : {}),
          status: a.pattern,
        },
        payload: a,
      })),
    );
    return fresh;
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}
