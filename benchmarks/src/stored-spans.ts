import { openStoreReader } from '@agent-audit/store/query';

/** Every `span.end` record of a store, as span id → trace id, read through the store's reader. */
export function readStoredSpans(storeDir: string): Map<string, string> {
  const reader = openStoreReader(storeDir);
  try {
    const spans = new Map<string, string>();
    for (let seq = 0; ; ) {
      const batch = reader.recordsFrom(seq, 2000);
      if (batch.length === 0) break;
      for (const record of batch) {
        if (record.type === 'span.end' && record.tags.span) {
          spans.set(record.tags.span, record.tags.trace ?? '');
        }
      }
      seq = batch.at(-1)!.seq + 1;
    }
    return spans;
  } finally {
    reader.close();
  }
}
