import {
  ATTR_CREDENTIAL_AUDIENCE,
  ATTR_CREDENTIAL_EXPIRES_AT,
  ATTR_CREDENTIAL_ISSUER,
  ATTR_CREDENTIAL_REF,
  ATTR_CREDENTIAL_SCOPES,
} from '@agent-audit/instrumentation/attributes';
import type { Location } from './global-options.js';
import { runTimeline } from './run-timeline.js';
import { type StoreReader, storeFailure } from './store-access.js';
import type { TrailSpan } from './trail-span.js';
import { isToolCall } from './trail-span.js';

/** The `credential.issued` event of a credential, as the trail recorded it. */
export interface CredentialIssue {
  time: string | null;
  issuer: string | null;
  scopes: string[];
  audience: string | null;
  expires_at: string | null;
}

/** One tool call made with the credential (an agent's own, or a gateway's). */
export interface CredentialToolCall {
  time: string | null;
  service: string | null;
  store: string | null;
  span_id: string;
  tool: string | null;
  decision: string | null;
  decision_reason: string | null;
  status: string;
}

/** One run the credential belongs to or was used in. `whois --json` prints an array of these. */
export interface CredentialUse {
  credential_ref: string;
  run_id: string;
  agent_id: string | null;
  principal: string | null;
  tenant_id: string | null;
  issued: CredentialIssue | null;
  tool_calls: CredentialToolCall[];
}

const RUN_EVENT_CREDENTIAL_ISSUED = 'credential.issued';
/** The record types a run summary is made of. */
const RUN_RECORD_TYPES = new Set(['span.start', 'span.end', 'event']);

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** The credential's issue event in a run's spans, if the trail has it. */
function issueOf(spans: TrailSpan[], ref: string): CredentialIssue | null {
  for (const span of spans) {
    for (const event of span.events) {
      if (event.name !== RUN_EVENT_CREDENTIAL_ISSUED) continue;
      if (event.attributes[ATTR_CREDENTIAL_REF] !== ref) continue;
      const scopes = event.attributes[ATTR_CREDENTIAL_SCOPES];
      return {
        time: event.time,
        issuer: str(event.attributes[ATTR_CREDENTIAL_ISSUER]),
        scopes: Array.isArray(scopes)
          ? scopes.filter((s): s is string => typeof s === 'string')
          : [],
        audience: str(event.attributes[ATTR_CREDENTIAL_AUDIENCE]),
        expires_at: str(event.attributes[ATTR_CREDENTIAL_EXPIRES_AT]),
      };
    }
  }
  return null;
}

/**
 * Every run in the stores that issued or used `ref` (`credential.ref` on a span, or a
 * `credential.issued` event naming it), with the run's attribution and each tool call made
 * with it, newest run first. The runs to read come from each store's query index
 * (`credentialRuns`: a superset, checked against the segments like every index answer); each
 * such run is then read from every store and its timeline decides, so the answer is what a
 * scan of every run gives.
 */
export function findCredentialUse(
  readers: Array<{ location: Location; reader: StoreReader }>,
  ref: string,
): CredentialUse[] {
  const read = <T>(location: Location, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw storeFailure(error, location);
    }
  };
  const runIds = new Set<string>();
  for (const { location, reader } of readers) {
    for (const runId of read(location, () => reader.credentialRuns(ref))) runIds.add(runId);
  }
  const runs: Array<{ runId: string; start: string; first: number[]; spans: TrailSpan[] }> = [];
  for (const runId of runIds) {
    const records = readers.flatMap(({ location, reader }, at) =>
      read(location, () => reader.runRecords(runId)).map((r) => ({
        ...r,
        store: location.path,
        at,
      })),
    );
    // The run's start as `runs` lists it (its earliest span or event record), and its first
    // such record (store, seq), which orders runs that start in the same millisecond.
    let start = '';
    let first: number[] = [];
    for (const r of records) {
      if (!RUN_RECORD_TYPES.has(r.type)) continue;
      if (first.length === 0) first = [r.at, r.seq];
      if (start === '' || r.time < start) start = r.time;
    }
    runs.push({ runId, start, first, spans: runTimeline(records) });
  }
  // Newest start first, as `runs` lists them.
  runs.sort((x, y) =>
    x.start !== y.start
      ? x.start < y.start
        ? 1
        : -1
      : x.first[0]! - y.first[0]! || x.first[1]! - y.first[1]!,
  );
  const out: CredentialUse[] = [];
  for (const { runId, spans } of runs) {
    const issued = issueOf(spans, ref);
    const used = spans.filter((s) => s.credential_ref === ref);
    if (issued === null && used.length === 0) continue;
    const attributed =
      used.find((s) => s.principal !== null) ?? spans.find((s) => s.principal !== null);
    const root = spans.find((s) => s.depth === 0) ?? spans[0];
    out.push({
      credential_ref: ref,
      run_id: runId,
      agent_id: root?.agent_id ?? attributed?.agent_id ?? null,
      principal: root?.principal ?? attributed?.principal ?? null,
      tenant_id: root?.tenant_id ?? attributed?.tenant_id ?? null,
      issued,
      tool_calls: used.filter(isToolCall).map((s) => ({
        time: s.start,
        service: s.service,
        store: s.store,
        span_id: s.span_id,
        tool: s.tool,
        decision: s.decision,
        decision_reason: s.decision_reason,
        status: s.status,
      })),
    });
  }
  return out;
}
