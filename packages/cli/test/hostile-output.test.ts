import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AppendEntry, AuditStore } from '@agent-audit/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeHttp, fakeHttp } from './support/fake-http.js';
import {
  demoRun,
  RUN_ID,
  type Scalar,
  type SpanSpec,
  spanEndPayload,
  spanStartPayload,
} from './support/otlp-fixtures.js';
import { CLI_BIN } from './support/run-cli.js';
import { unsafeBytes } from './support/terminal-safety.js';

/**
 * Appended to every name and value of a run: a screen clear, a window title (OSC 0), an OSC 8
 * hyperlink, a one-byte C1 CSI, bidi overrides and isolates, marks, DEL, a line separator, and
 * a newline that tries to forge an output line.
 */
const H =
  '\x1b[2J\x1b]0;pwned\x07\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\' +
  '\u009b31m\u202egnp.exe\u2066\u200f\u061c\x7f\u2028\nFAKE LINE\t\r';
const HOSTILE_RUN = `${RUN_ID}${H}`;

function poisonValue(value: Scalar): Scalar {
  if (typeof value === 'string') return value + H;
  if (Array.isArray(value)) return value.map((v) => v + H);
  return value;
}

function poisonAttributes(attributes: Record<string, Scalar> = {}): Record<string, Scalar> {
  return Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, poisonValue(v)]));
}

/** The demo run with H appended to every span and event name, every string value and service. */
function poison(spec: SpanSpec): SpanSpec {
  return {
    ...spec,
    name: spec.name + H,
    attributes: poisonAttributes(spec.attributes),
    events: (spec.events ?? []).map((e) => ({
      ...e,
      name: e.name + H,
      attributes: poisonAttributes(e.attributes),
    })),
    ...(spec.status
      ? { status: { ...spec.status, message: `${spec.status.message ?? ''}${H}` } }
      : {}),
    service: (spec.service ?? 'orchestrator') + H,
  };
}

function hostileRun() {
  const run = demoRun(RUN_ID, Date.now() - 60_000, 'user:456');
  return { ended: run.ended.map(poison), neverEnded: poison(run.neverEnded) };
}

function tags(spec: SpanSpec, status?: string): Record<string, string> {
  const a = spec.attributes ?? {};
  const out: Record<string, string> = { trace: spec.traceId, span: spec.spanId };
  if (spec.parentSpanId) out.parent = spec.parentSpanId;
  for (const [tag, key] of [
    ['run', 'workflow.run_id'],
    ['agent', 'agent.id'],
    ['principal', 'trigger.principal'],
    ['tool', 'tool.name'],
    ['tenant', 'tenant.id'],
  ] as const) {
    if (typeof a[key] === 'string') out[tag] = a[key] as string;
  }
  if (status) out.status = status;
  return out;
}

interface Output {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

function run(args: string[], env: Record<string, string>): Promise<Output> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_BIN, ...args],
      { env: { ...process.env, ...env }, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Neither stream holds a byte a terminal would act on, and no value forged a line. */
function expectSafe(out: Output, what: string): void {
  expect(unsafeBytes(out.stdout), `${what}: stdout`).toEqual([]);
  expect(unsafeBytes(out.stderr), `${what}: stderr`).toEqual([]);
  expect(out.stdout.toString('utf8'), `${what}: forged line`).not.toMatch(/^FAKE LINE/m);
  expect(out.stderr.toString('utf8'), `${what}: stack trace`).not.toMatch(/\n\s+at /);
}

/** A Jaeger query API answer (`/api/traces`) holding the given spans, as Jaeger's JSON has it. */
function jaegerTraces(specs: SpanSpec[]): unknown {
  const services = [...new Set(specs.map((s) => s.service ?? 'orchestrator'))];
  const tag = (key: string, value: Scalar) => ({
    key,
    type: typeof value === 'string' ? 'string' : typeof value === 'number' ? 'int64' : 'bool',
    value: Array.isArray(value) ? JSON.stringify(value) : value,
  });
  return {
    data: [
      {
        traceID: specs[0]!.traceId,
        spans: specs.map((s) => ({
          traceID: s.traceId,
          spanID: s.spanId,
          // A lone surrogate cannot be written to a terminal at all: it must show as \ud800.
          operationName: `${s.name}\ud800`,
          references: s.parentSpanId
            ? [{ refType: 'CHILD_OF', traceID: s.traceId, spanID: s.parentSpanId }]
            : [],
          startTime: s.startMs * 1000,
          duration: ((s.endMs ?? s.startMs + 5) - s.startMs) * 1000,
          tags: [
            ...Object.entries(s.attributes ?? {}).map(([k, v]) => tag(k, v)),
            tag('span.kind', 'internal'),
            tag('note', `lone \ud800 surrogate${H}`),
            ...(s.status?.code === 2
              ? [
                  tag('otel.status_code', 'ERROR'),
                  tag('otel.status_description', s.status.message ?? ''),
                ]
              : []),
          ],
          logs: (s.events ?? []).map((e) => ({
            timestamp: e.atMs * 1000,
            fields: [
              tag('event', e.name),
              ...Object.entries(e.attributes ?? {}).map(([k, v]) => tag(k, v)),
            ],
          })),
          processID: `p${services.indexOf(s.service ?? 'orchestrator')}`,
        })),
        processes: Object.fromEntries(
          services.map((service, i) => [
            `p${i}`,
            { serviceName: service, tags: [tag('process.pid', 4242)] },
          ]),
        ),
      },
    ],
  };
}

describe('nothing the CLI prints can drive the terminal', () => {
  const root = mkdtempSync(join(tmpdir(), 'cli-hostile-'));
  // The store's own directory name is hostile too: paths are shown back to the user.
  const store = join(root, 'store\x1b[31m\u202e');
  const trust = join(root, 'trust');
  const env = { AGENT_AUDIT_STORE_DIR: store, AGENT_AUDIT_TRUST_DIR: trust };
  const { ended, neverEnded } = hostileRun();
  let collector: FakeHttp;
  let jaeger: FakeHttp;

  beforeAll(async () => {
    const writer = AuditStore.open({ dir: store, trustDir: trust });
    const entries: AppendEntry[] = [];
    for (const spec of ended) {
      entries.push({ type: 'span.start', tags: tags(spec), payload: spanStartPayload(spec) });
    }
    for (const spec of ended) {
      const status = ['unset', 'ok', 'error'][spec.status?.code ?? 0];
      entries.push({ type: 'span.end', tags: tags(spec, status), payload: spanEndPayload(spec) });
    }
    entries.push({
      type: 'span.start',
      tags: tags(neverEnded),
      payload: spanStartPayload(neverEnded),
    });
    await writer.appendBatch(entries);
    await writer.close();
    // A collector that refuses with a hostile body: its words reach `forward` and `status`.
    collector = await fakeHttp((_req, res) => {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`rejected${H}`);
    });
    const traces = jaegerTraces(ended);
    jaeger = await fakeHttp((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const services = [...new Set(ended.map((s) => s.service ?? 'orchestrator'))];
      res.end(JSON.stringify(req.url?.startsWith('/api/services') ? { data: services } : traces));
    });
  });
  afterAll(async () => {
    await collector?.close();
    await jaeger?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('store: trail, runs, explain, report, status, verify, forward and prune', async () => {
    const html = join(root, 'report.html');
    const commands: string[][] = [
      ['trail', HOSTILE_RUN],
      ['trail', HOSTILE_RUN, '--wide'],
      ['trail', HOSTILE_RUN, '--json'],
      ['trail', 'no-such-run\x1b[2J\u202e'],
      ['runs'],
      ['runs', '--actions', '--wide'],
      ['runs', '--actions', '--json'],
      ['explain', HOSTILE_RUN],
      ['explain', HOSTILE_RUN, '--wide'],
      ['explain', HOSTILE_RUN, '--json'],
      ['report', HOSTILE_RUN, '--html', html],
      ['verify'],
      ['verify', '--json'],
      ['forward', '--endpoint', `${collector.url}/v1/traces`],
      ['forward', '--endpoint', `${collector.url}/v1/traces`, '--json'],
      ['status'],
      ['status', '--json'],
      ['prune', '--before', '400d'],
      ['whois', `cred:run-token-1${H}`],
      ['whois', `cred:run-token-1${H}`, '--wide'],
      ['whois', `cred:run-token-1${H}`, '--json'],
      ['whois', 'aat_none\x1b[2J\u202e'],
      ['runs', '--credential', `cred:run-token-1${H}`, '--actions'],
    ];
    for (const args of commands) {
      const out = await run(args, env);
      expectSafe(out, JSON.stringify(args));
    }
  });

  it('shows what was there, escaped, rather than hiding it', async () => {
    const wide = (await run(['trail', HOSTILE_RUN, '--wide'], env)).stdout.toString('utf8');
    for (const shown of [
      '\\x1b[2J',
      '\\x1b]0;pwned\\x07',
      '\\u009b31m',
      '\\u202egnp.exe',
      '\\nFAKE LINE',
    ]) {
      expect(wide).toContain(shown);
    }
    const status = (await run(['status'], env)).stdout.toString('utf8');
    expect(status).toContain('store\\x1b[31m\\u202e');
    const whois = await run(['whois', `cred:run-token-1${H}`, '--wide'], env);
    expect(whois.code).toBe(0);
    expect(whois.stdout.toString('utf8')).toContain('principal  user:456\\x1b[2J');
  });

  it('--json is still the data, byte for byte once parsed', async () => {
    const out = await run(['trail', HOSTILE_RUN, '--json'], env);
    const parsed = JSON.parse(out.stdout.toString('utf8'));
    expect(parsed.run_id).toBe(HOSTILE_RUN);
    expect(parsed.spans.map((s: { name: string }) => s.name)).toContain(
      `execute_tool db_update${H}`,
    );
  });

  it('the HTML report renders the values as text', () => {
    const page = readFileSync(join(root, 'report.html'), 'utf8');
    expect(page).not.toContain('\u202e');
    expect(page).not.toContain('\x1b');
    expect(page).toContain('\\u202egnp.exe');
  });

  it('Jaeger: trail, explain and report read from a hostile answer', async () => {
    const html = join(root, 'jaeger-report.html');
    const commands: string[][] = [
      ['trail', HOSTILE_RUN, '--jaeger', jaeger.url],
      ['trail', HOSTILE_RUN, '--jaeger', jaeger.url, '--wide'],
      ['trail', HOSTILE_RUN, '--jaeger', jaeger.url, '--json'],
      ['explain', HOSTILE_RUN, '--jaeger', jaeger.url, '--wide'],
      ['explain', HOSTILE_RUN, '--jaeger', jaeger.url, '--json'],
      ['report', HOSTILE_RUN, '--jaeger', jaeger.url, '--html', html],
    ];
    for (const args of commands) {
      const out = await run(args, env);
      expect(out.code, `${JSON.stringify(args)}: ${JSON.stringify(out.stderr.toString())}`).toBe(0);
      expectSafe(out, JSON.stringify(args));
    }
    const wide = (await run(['trail', HOSTILE_RUN, '--jaeger', jaeger.url, '--wide'], env)).stdout;
    expect(wide.toString('utf8')).toContain('\\ud800');
    const json = (await run(['trail', HOSTILE_RUN, '--jaeger', jaeger.url, '--json'], env)).stdout;
    expect(JSON.parse(json.toString('utf8')).spans[0].attributes.note).toBe(
      `lone \ud800 surrogate${H}`,
    );
  });
});
