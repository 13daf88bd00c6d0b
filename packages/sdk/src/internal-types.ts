// Types shared inside the SDK. The record shapes mirror the store contract in
// docs/architecture.md; they are structural so the processor can also write to a sink that is
// not a store (benchmarks, tests) without the store package changing.

import type { AppendEntry, JsonValue, RecordTags } from '@agent-audit/store';

export type { JsonValue, RecordTags };
export interface JsonObject {
  [key: string]: JsonValue;
}

export type AuditRecordEntry = AppendEntry;

/**
 * Where the processor writes. `@agent-audit/store`'s `AuditStore` satisfies it; `append` must
 * resolve only once the record is durable, and `flushSync` must make everything appended so far
 * durable before it returns (it runs in `exit` handlers, where promises never settle).
 */
export interface AuditRecordSink {
  append(entry: AuditRecordEntry): Promise<unknown>;
  flushSync(): void;
}

export interface OtlpKeyValue {
  key: string;
  value: JsonObject;
  [key: string]: JsonValue;
}

/** An OTLP/JSON `ExportTraceServiceRequest`, as produced by `JsonTraceSerializer`. */
export interface OtlpTraceRequest {
  resourceSpans: JsonObject[];
  [key: string]: JsonValue;
}

/** The pre-exec intent record, see docs/architecture.md ("A `span.start` payload …"). */
export interface SpanStartPayload {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  attributes: OtlpKeyValue[];
  [key: string]: JsonValue | undefined;
}
