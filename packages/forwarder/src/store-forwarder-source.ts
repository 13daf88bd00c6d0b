import type { SegmentReader as StoreReader } from '@agent-audit/store';
import type { ForwarderRecord, ForwarderSource } from './forwarder.js';

/**
 * A reader that may lack `rawRecordsFrom` (one written against an older store interface).
 * With it, the forwarder splices the stored canonical JSON into its request instead of parsing
 * every record and re-printing every span (the store's `SegmentReader` has it).
 */
type RawCapableReader = Omit<StoreReader, 'rawRecordsFrom'> & {
  rawRecordsFrom?(seq: number, limit?: number): ForwarderRecord[];
};

/**
 * Adapts the store reader to the forwarder: records in sequence order, and the head for status.
 * In the writer's process, `headSeq` should come from the writer (`store.head`, free) rather than
 * the reader (which scans the newest segment to find it).
 */
export function storeForwarderSource(
  reader: StoreReader,
  headSeq: () => number | undefined = () => reader.head()?.seq,
): ForwarderSource {
  const raw = (reader as RawCapableReader).rawRecordsFrom;
  return {
    recordsFrom:
      typeof raw === 'function'
        ? (seq, limit) => raw.call(reader, seq, limit)
        : (seq, limit) => reader.recordsFrom(seq, limit),
    headSeq,
  };
}
