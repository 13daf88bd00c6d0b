import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempStore {
  root: string;
  storeDir: string;
  trustDir: string;
  cleanup(): void;
}

/** A fresh store and trust directory (kept apart, as the store requires) under the OS temp dir. */
export function tempStore(prefix = 'aa-sdk-'): TempStore {
  const root = mkdtempSync(join(tmpdir(), prefix));
  return {
    root,
    storeDir: join(root, 'store'),
    trustDir: join(root, 'trust'),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export interface RawRecord {
  seq: number;
  type: string;
  tags: Record<string, string>;
  payload: unknown;
}

/** Every record in the store's segment files, in sequence order, read straight from disk. */
export function readSegments(storeDir: string): RawRecord[] {
  const segDir = join(storeDir, 'segments');
  const out: RawRecord[] = [];
  for (const file of readdirSync(segDir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()) {
    for (const line of readFileSync(join(segDir, file), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      out.push(JSON.parse(line) as RawRecord);
    }
  }
  return out.sort((a, b) => a.seq - b.seq);
}

export interface OtlpSpanJson {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number; message?: string };
  events?: { name: string; attributes: { key: string; value: Record<string, unknown> }[] }[];
}

/** The one span inside a `span.end` payload. */
export function spanOf(record: RawRecord): OtlpSpanJson {
  const payload = record.payload as {
    resourceSpans: { scopeSpans: { spans: OtlpSpanJson[] }[] }[];
  };
  const span = payload.resourceSpans[0]?.scopeSpans[0]?.spans[0];
  if (!span) throw new Error(`record ${record.seq} holds no span`);
  return span;
}

/** OTLP JSON `KeyValue[]` → a plain object of primitive values (arrays as arrays). */
export function attrsOf(span: { attributes: { key: string; value: Record<string, unknown> }[] }) {
  const out: Record<string, unknown> = {};
  for (const kv of span.attributes) out[kv.key] = anyValue(kv.value);
  return out;
}

function anyValue(v: Record<string, unknown>): unknown {
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('arrayValue' in v) {
    const values = (v.arrayValue as { values?: Record<string, unknown>[] }).values ?? [];
    return values.map(anyValue);
  }
  return undefined;
}
