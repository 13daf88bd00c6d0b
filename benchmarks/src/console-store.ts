import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AppendEntry, AuditStore } from '@agent-audit/store';

/**
 * A store of many synthetic runs written through the store's real writer, with the records the
 * SDK writes (a `span.start` pre-exec record per tool call, a `span.end` OTLP/JSON request per
 * span, the index tags): the console's benchmark store (a million spans) and its browser tests'
 * "many runs" store. Deterministic for a given spec, apart from ids.
 */
export interface GeneratedStoreSpec {
  runs: number;
  /** Tool calls per run (each run also has its run span). */
  toolsPerRun: number;
  principals: number;
  /** Runs are spread evenly from `endMs - days` to `endMs`. */
  days: number;
  endMs: number;
}

export interface GeneratedStore {
  dir: string;
  trustDir: string;
  spans: number;
  records: number;
  /** Figures the generator planted, for tests to check the dashboards against. */
  planted: {
    errors: number;
    denials: number;
    ungoverned: number;
    violations: number;
    pendingApprovals: number;
  };
}

const TOOLS = [
  'search_kb',
  'lookup_customer',
  'issue_refund',
  'send_email',
  'update_ticket',
  'query_db',
];
const AGENTS = ['support-agent', 'billing-agent', 'triage-agent'];

type Value = string | number | boolean | string[];

function kv(attributes: Record<string, Value>): unknown[] {
  return Object.entries(attributes).map(([key, v]) => ({
    key,
    value:
      typeof v === 'string'
        ? { stringValue: v }
        : typeof v === 'boolean'
          ? { boolValue: v }
          : Array.isArray(v)
            ? { arrayValue: { values: v.map((s) => ({ stringValue: s })) } }
            : { intValue: String(v) },
  }));
}

const nanos = (ms: number) => `${BigInt(Math.round(ms * 1000)) * 1000n}`;
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startMs: number;
  endMs: number;
  error: boolean;
  attributes: Record<string, Value>;
  events: Array<{ name: string; atMs: number; attributes: Record<string, Value> }>;
}

function endPayload(span: Span, service: string): unknown {
  return {
    resourceSpans: [
      {
        resource: {
          attributes: kv({ 'service.name': service, 'process.pid': 4242 }),
          droppedAttributesCount: 0,
        },
        scopeSpans: [
          {
            scope: { name: '@agent-audit/instrumentation', version: '0.1.0' },
            spans: [
              {
                traceId: span.traceId,
                spanId: span.spanId,
                ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
                name: span.name,
                kind: 1,
                startTimeUnixNano: nanos(span.startMs),
                endTimeUnixNano: nanos(span.endMs),
                attributes: kv(span.attributes),
                droppedAttributesCount: 0,
                events: span.events.map((e) => ({
                  name: e.name,
                  timeUnixNano: nanos(e.atMs),
                  attributes: kv(e.attributes),
                  droppedAttributesCount: 0,
                })),
                droppedEventsCount: 0,
                status: span.error ? { code: 2, message: 'tool failed' } : { code: 1 },
                links: [],
                droppedLinksCount: 0,
              },
            ],
          },
        ],
      },
    ],
  };
}

function tagsOf(span: Span, status?: string): Record<string, string> {
  const a = span.attributes;
  const tags: Record<string, string> = { trace: span.traceId, span: span.spanId };
  if (span.parentSpanId) tags.parent = span.parentSpanId;
  for (const [tag, key] of [
    ['run', 'workflow.run_id'],
    ['agent', 'agent.id'],
    ['principal', 'trigger.principal'],
    ['tool', 'tool.name'],
    ['tenant', 'tenant.id'],
  ] as const) {
    if (typeof a[key] === 'string') tags[tag] = a[key] as string;
  }
  if (status) tags.status = status;
  return tags;
}

/** Writes the store (replacing `dir`; the trust dir is created or reused); the writer's clock follows the runs' times. */
export async function generateStore(
  dir: string,
  trustDir: string,
  spec: GeneratedStoreSpec,
): Promise<GeneratedStore> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(trustDir, { recursive: true, mode: 0o700 });
  let clock = spec.endMs - spec.days * 86_400_000;
  const store = AuditStore.open({
    dir,
    trustDir,
    now: () => new Date(clock),
    checkpointEveryRecords: 50_000,
  });
  const planted = { errors: 0, denials: 0, ungoverned: 0, violations: 0, pendingApprovals: 0 };
  const step = (spec.days * 86_400_000) / Math.max(1, spec.runs);
  let batch: AppendEntry[] = [];
  let spans = 0;
  let records = 0;
  for (let r = 0; r < spec.runs; r++) {
    const t0 = spec.endMs - spec.days * 86_400_000 + r * step;
    clock = t0;
    const traceId = hex(16);
    const runSpanId = hex(8);
    const agent = AGENTS[r % AGENTS.length]!;
    const run: Record<string, Value> = {
      'workflow.run_id': `run-${String(r).padStart(7, '0')}-${hex(4)}`,
      'agent.id': agent,
      'trigger.principal': `user:${r % spec.principals}`,
      'tenant.id': `tenant-${r % 7}`,
      'credential.ref': `cred:run-${r % 50}`,
    };
    const tools: Span[] = [];
    for (let i = 0; i < spec.toolsPerRun; i++) {
      const n = r * spec.toolsPerRun + i;
      const tool = TOOLS[n % TOOLS.length]!;
      const start = t0 + 5 + i * 20;
      const attributes: Record<string, Value> = {
        ...run,
        'gen_ai.operation.name': 'execute_tool',
        'tool.name': tool,
        'gen_ai.tool.name': tool,
        'input.hash': `sha256:${hex(32)}`,
        'output.hash': `sha256:${hex(32)}`,
        'decision.outcome': n % 97 === 0 ? 'stop' : 'allow',
        'decision.policy': n % 11 === 0 ? 'none' : 'support-policy',
      };
      if (n % 5 === 0) attributes['data.classification'] = 'internal';
      const error = n % 23 === 0;
      if (error) planted.errors += 1;
      if (n % 97 === 0) {
        attributes['permission.denied'] = true;
        attributes['permission.denial_type'] = 'policy';
        planted.denials += 1;
      }
      if (n % 11 === 0) planted.ungoverned += 1;
      if (n % 151 === 0) {
        attributes['audit.violation'] = ['missing_mandatory_attribute'];
        planted.violations += 1;
      }
      const events: Span['events'] = [];
      if (n % 211 === 0) {
        events.push({
          name: 'approval.requested',
          atMs: start + 1,
          attributes: { 'approval.id': `apr-${n}` },
        });
        planted.pendingApprovals += 1;
      }
      tools.push({
        traceId,
        spanId: hex(8),
        parentSpanId: runSpanId,
        name: `execute_tool ${tool}`,
        startMs: start,
        endMs: start + 1 + (n % 17),
        error,
        attributes,
        events,
      });
    }
    const runSpan: Span = {
      traceId,
      spanId: runSpanId,
      name: `invoke_agent ${agent}`,
      startMs: t0,
      endMs: t0 + 10 + spec.toolsPerRun * 20,
      error: false,
      attributes: { ...run, 'gen_ai.operation.name': 'invoke_agent' },
      events: [],
    };
    for (const t of tools) {
      batch.push({
        type: 'span.start',
        tags: tagsOf(t),
        payload: {
          traceId,
          spanId: t.spanId,
          parentSpanId: runSpanId,
          name: t.name,
          startTimeUnixNano: nanos(t.startMs),
          attributes: kv(t.attributes),
        },
      });
      batch.push({
        type: 'span.end',
        tags: tagsOf(t, t.error ? 'error' : 'ok'),
        payload: endPayload(t, 'bench-agent'),
      });
    }
    batch.push({
      type: 'span.end',
      tags: tagsOf(runSpan, 'ok'),
      payload: endPayload(runSpan, 'bench-agent'),
    });
    spans += tools.length + 1;
    records += tools.length * 2 + 1;
    if (batch.length >= 2000) {
      await store.appendBatch(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await store.appendBatch(batch);
  await store.close();
  return { dir, trustDir, spans, records, planted };
}

/**
 * The benchmark's million-span store, built once and cached under `root` (keyed by `version`:
 * bump it when the generator changes). Returns the cached one when it is complete.
 */
export async function cachedStore(
  root: string,
  version: string,
  spec: GeneratedStoreSpec,
): Promise<GeneratedStore & { cached: boolean }> {
  const base = join(root, `console-bench-${version}`);
  const marker = join(base, 'complete.json');
  const dir = join(base, 'store');
  const trustDir = join(base, 'trust');
  if (existsSync(marker)) {
    const { spans, records, planted } = JSON.parse(
      await import('node:fs').then((fs) => fs.readFileSync(marker, 'utf8')),
    );
    return { dir, trustDir, spans, records, planted, cached: true };
  }
  mkdirSync(base, { recursive: true });
  const made = await generateStore(dir, trustDir, spec);
  writeFileSync(
    marker,
    JSON.stringify({ spans: made.spans, records: made.records, planted: made.planted }),
  );
  return { ...made, cached: false };
}
