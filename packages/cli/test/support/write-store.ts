import { type AppendEntry, AuditStore, type AuditStoreOptions } from '@agent-audit/store';
import {
  demoRun,
  RUN_ID,
  type SpanSpec,
  spanEndPayload,
  spanStartPayload,
} from './otlp-fixtures.js';

function tags(spec: SpanSpec, status?: string): Record<string, string> {
  const a = spec.attributes ?? {};
  const out: Record<string, string> = { trace: spec.traceId, span: spec.spanId };
  if (spec.parentSpanId) out.parent = spec.parentSpanId;
  const pick = (tag: string, key: string) => {
    if (typeof a[key] === 'string') out[tag] = a[key] as string;
  };
  pick('run', 'workflow.run_id');
  pick('agent', 'agent.id');
  pick('principal', 'trigger.principal');
  pick('tool', 'tool.name');
  pick('tenant', 'tenant.id');
  if (status) out.status = status;
  return out;
}

const STATUS = ['unset', 'ok', 'error'];

/** The records the SDK would append for one run: a pre-exec start and an end per span. */
export function runEntries(
  runId = RUN_ID,
  t0?: number,
  principal?: string,
  service?: string,
): AppendEntry[] {
  const run = demoRun(runId, t0, principal);
  const mine = (spec: SpanSpec) =>
    service === undefined || (spec.service ?? 'orchestrator') === service;
  const ended = run.ended.filter(mine);
  const neverEnded = mine(run.neverEnded) ? run.neverEnded : undefined;
  const entries: AppendEntry[] = [];
  for (const spec of ended)
    entries.push({ type: 'span.start', tags: tags(spec), payload: spanStartPayload(spec) });
  for (const spec of [...ended].reverse()) {
    entries.push({
      type: 'span.end',
      tags: tags(spec, STATUS[spec.status?.code ?? 0]),
      payload: spanEndPayload(spec),
    });
  }
  if (neverEnded) {
    entries.push({
      type: 'span.start',
      tags: tags(neverEnded),
      payload: spanStartPayload(neverEnded),
    });
  }
  return entries;
}

export interface RunSpec {
  runId: string;
  principal?: string;
  /** When the run happened (the writer's clock and the spans' times). */
  atMs?: number;
  /** Only the spans of this process (`orchestrator` or `sub-agent`), as its own store holds them. */
  service?: string;
}

/** Writes runs through the store package's real writer, then closes it (final checkpoint). */
export async function writeStore(
  dir: string,
  trustDir: string,
  runs: RunSpec[],
  options: AuditStoreOptions = {},
): Promise<void> {
  for (const run of runs) {
    const at = run.atMs ?? Date.now();
    const store = AuditStore.open({ ...options, dir, trustDir, now: () => new Date(at) });
    await store.appendBatch(runEntries(run.runId, at, run.principal, run.service));
    await store.close();
  }
}
