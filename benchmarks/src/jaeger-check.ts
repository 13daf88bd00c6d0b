/** What Jaeger holds of a set of stored spans. */
export interface JaegerCheckResult {
  /** Spans expected (the stored ones). */
  expected: number;
  /** Of those, how many Jaeger's query API returned. */
  found: number;
  /** Up to 20 span ids Jaeger does not have, for the error message. */
  missingSample: string[];
}

const QUERY_CONCURRENCY = 8;

/**
 * Asks Jaeger's query API (`GET /api/traces/{traceId}`, as the UI's trace view does) for every
 * trace of `spans` (span id → trace id) and counts which span ids it holds. Trace by trace, not
 * a search: a search is capped by `limit` and by its lookback window, a trace fetch is not.
 */
export async function checkJaeger(
  queryUrl: string,
  spans: ReadonlyMap<string, string>,
): Promise<JaegerCheckResult> {
  const traceIds = [...new Set(spans.values())];
  const seen = new Set<string>();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const traceId = traceIds[next++];
      if (traceId === undefined) return;
      const url = `${queryUrl.replace(/\/+$/, '')}/api/traces/${encodeURIComponent(traceId)}`;
      const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
      const text = await res.text();
      if (res.status === 404) continue;
      if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
      const body = JSON.parse(text) as { data?: Array<{ spans?: Array<{ spanID: string }> }> };
      for (const trace of body.data ?? []) {
        for (const span of trace.spans ?? []) seen.add(span.spanID);
      }
    }
  };
  await Promise.all(Array.from({ length: QUERY_CONCURRENCY }, worker));
  const missing = [...spans.keys()].filter((id) => !seen.has(id));
  return {
    expected: spans.size,
    found: spans.size - missing.length,
    missingSample: missing.slice(0, 20),
  };
}
