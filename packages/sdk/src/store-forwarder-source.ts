import type { StoreReader } from '@agent-audit/store';
import type { ForwarderSource } from './forwarder.js';

/** Adapts the store reader to the forwarder: records in sequence order, and the head for status. */
export function storeForwarderSource(reader: StoreReader): ForwarderSource {
  return {
    recordsFrom: (seq, limit) => reader.recordsFrom(seq, limit),
    headSeq: () => reader.head()?.seq,
  };
}
