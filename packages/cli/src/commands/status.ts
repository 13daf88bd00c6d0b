import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { existingStore, type GlobalOptions, trustFile, trustLocation } from '../global-options.js';
import { formatBytes } from '../progress-line.js';
import { withStoreReader } from '../store-access.js';
import { escapeValue } from '../terminal-text.js';

/** `status --json` output. */
export interface StatusOutput {
  store: {
    dir: string;
    segments: number;
    bytes: number;
    head_seq: number | null;
    runs: number;
    /** The single writer holding `store.lock`, if any. */
    writer: { pid: number; alive: boolean } | null;
  };
  trust: {
    dir: string;
    public_key: string | null;
    anchor: string | null;
    /** The newest checkpoint in the anchor file. */
    last_anchor: { size: number | null; time: string | null; key_id: string | null } | null;
  };
  /** The SDK forwarder's persisted cursor (`<store>/forwarder/cursor.json`); null before its first run. */
  forwarder: {
    cursor_file: string;
    endpoint: string | null;
    next_seq: number;
    pending_records: number | null;
    delivered: number | null;
    dead_letter_batches: number | null;
    dead_letter_spans: number | null;
    last_error: string | null;
    last_error_at: string | null;
    last_success_at: string | null;
    updated_at: string | null;
  } | null;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const numOrNull = (v: unknown): number | null => (typeof v === 'number' ? v : null);
const strOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function lastAnchor(file: string): StatusOutput['trust']['last_anchor'] {
  try {
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    const last = lines.length
      ? (JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>)
      : undefined;
    if (!last) return null;
    return {
      size: numOrNull(last.size),
      time: strOrNull(last.time),
      key_id: strOrNull(last.keyId),
    };
  } catch {
    return null;
  }
}

function renderStatus(s: StatusOutput, shown: string): string {
  // Everything here but the counts comes from files anyone with access to the store (or the
  // collector's error text) could have written: each value is escaped for the terminal.
  const v = (value: string | number | null | undefined, none = '-'): string =>
    value === null || value === undefined ? none : escapeValue(String(value));
  const lines = [
    `store ${v(shown)}`,
    `  ${s.store.segments} segment(s), ${formatBytes(s.store.bytes)}, head seq ${v(s.store.head_seq)}, ${s.store.runs} run(s)`,
    s.store.writer
      ? `  writer: pid ${s.store.writer.pid} ${s.store.writer.alive ? 'running' : 'gone (stale lock; the next writer takes it over)'}`
      : '  writer: none (no store.lock)',
    `trust ${v(s.trust.dir)}`,
    `  public key: ${v(s.trust.public_key, 'none (verify cannot check signatures: pass --public-key)')}`,
    `  anchor: ${v(s.trust.anchor, 'none')}${s.trust.last_anchor ? ` · last checkpoint size ${v(s.trust.last_anchor.size)} at ${v(s.trust.last_anchor.time)}` : ''}`,
  ];
  const f = s.forwarder;
  if (!f) {
    lines.push('forwarder: no cursor yet (nothing forwarded to Jaeger from this store)');
  } else {
    lines.push(
      `forwarder → ${v(f.endpoint, '(endpoint not recorded)')}`,
      `  next seq ${v(f.next_seq)} · pending records ${v(f.pending_records, '?')} · delivered spans ${v(f.delivered, '?')} · dead-letter batches ${v(f.dead_letter_batches, '0')}`,
      `  last success ${v(f.last_success_at)} · last error ${f.last_error ? `${v(f.last_error)} at ${v(f.last_error_at, '?')}` : '-'}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function statusCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return new Command('status')
    .description(
      'the store at a glance: size, head, runs, writer lock, trust material, and the forwarder cursor (pending, last error)',
    )
    .action(async (_options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const location = existingStore(globals, ctx, 'status');
      const segmentsDir = join(location.path, 'segments');
      const segmentFiles = readdirSync(segmentsDir).filter((f) => /^\d+\.jsonl$/.test(f));
      const bytes = segmentFiles.reduce((sum, f) => sum + statSync(join(segmentsDir, f)).size, 0);
      const { head, runs } = await withStoreReader(location, (reader) => ({
        head: reader.head(),
        runs: reader.listRuns({}).length,
      }));
      let writer: StatusOutput['store']['writer'] = null;
      try {
        const pid = Number.parseInt(readFileSync(join(location.path, 'store.lock'), 'utf8'), 10);
        if (Number.isSafeInteger(pid) && pid > 0) writer = { pid, alive: pidAlive(pid) };
      } catch {
        // No lock file: no writer has the store open.
      }
      const publicKey = trustFile(ctx, 'public-key.pem');
      const anchor = trustFile(ctx, 'anchor.jsonl');
      const cursorFile = join(location.path, 'forwarder', 'cursor.json');
      const cursor = readJson(cursorFile);
      const nextSeq = numOrNull(cursor?.nextSeq) ?? 0;
      const status: StatusOutput = {
        store: {
          dir: location.path,
          segments: segmentFiles.length,
          bytes,
          head_seq: head?.seq ?? null,
          runs,
          writer,
        },
        trust: {
          dir: trustLocation(ctx).path,
          public_key: publicKey?.path ?? null,
          anchor: anchor?.path ?? null,
          last_anchor: anchor ? lastAnchor(anchor.path) : null,
        },
        forwarder: cursor
          ? {
              cursor_file: cursorFile,
              endpoint: strOrNull(cursor.endpoint),
              next_seq: nextSeq,
              pending_records: head ? Math.max(0, head.seq - Math.max(nextSeq, 1) + 1) : 0,
              delivered: numOrNull(cursor.delivered),
              dead_letter_batches: numOrNull(cursor.deadLetterBatches),
              dead_letter_spans: numOrNull(cursor.deadLetterSpans),
              last_error: strOrNull(cursor.lastError),
              last_error_at: strOrNull(cursor.lastErrorAt),
              last_success_at: strOrNull(cursor.lastSuccessAt),
              updated_at: strOrNull(cursor.updatedAt),
            }
          : null,
      };
      ctx.writeOut(
        globals.json
          ? `${JSON.stringify(status, null, 2)}\n`
          : renderStatus(status, location.shown),
      );
    });
}
