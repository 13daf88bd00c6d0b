import { StrictJsonWriter } from '@agent-audit/canonical-json';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import {
  hrTimeToNanosString,
  RecordTexts,
  spanEndPayload,
  spanEndPayloadViaSerializer,
  spanRecordTags,
  spanStartPayload,
} from '../src/otlp-json.js';

function endedSpans(fn: (tracer: ReturnType<TracerProvider['getTracer']>) => void): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  fn(provider.getTracer('otlp-json-test', '1.2.3'));
  return exporter.getFinishedSpans();
}

/** True when `value` survives JSON unchanged: no bigint, undefined, NaN, functions or class instances. */
function isPlainJson(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (Array.isArray(value)) return value.every(isPlainJson);
  if (typeof value === 'object') {
    if (Object.getPrototypeOf(value) !== Object.prototype) return false;
    return Object.values(value as object).every((v) => v !== undefined && isPlainJson(v));
  }
  return false;
}

/** Paths of objects whose keys do not enumerate in sorted order, collected into `out`. */
function unsortedKeys(value: unknown, path: string, out: string[]): void {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) unsortedKeys(v, `${path}[${i}]`, out);
  } else if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.join('\u0000') !== [...keys].sort().join('\u0000')) out.push(`${path}: ${keys}`);
    for (const k of keys) unsortedKeys((value as Record<string, unknown>)[k], `${path}.${k}`, out);
  }
}

describe('otlp-json', () => {
  const spans = endedSpans((tracer) => {
    const p = tracer.startSpan('execute_tool search', { kind: SpanKind.INTERNAL });
    {
      const c = tracer.startSpan(
        'GET',
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'workflow.run_id': 'run-1',
            'agent.id': 'agent-1',
            'trigger.principal': 'user:1',
            'tool.name': 'search',
            'tenant.id': 't1',
            ratio: 0.25,
            count: 3,
            weird: Number.NaN,
            big: 2 ** 60,
            negzero: -0,
            list: ['a', 'b'],
            flags: [true, false],
          },
        },
        trace.setSpan(context.active(), p),
      );
      c.addEvent('retry', { attempt: 2 });
      c.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
      c.end();
      p.end();
    }
  });
  const parent = spans.find((s) => s.name !== 'GET');
  const child = spans.find((s) => s.name === 'GET');

  it('the span.end payload is what JsonTraceSerializer sends, as plain JSON', () => {
    const payload = spanEndPayload(child!);
    expect(isPlainJson(payload)).toBe(true);
    const span = (
      payload.resourceSpans[0] as {
        scopeSpans: { spans: Record<string, unknown>[]; scope: unknown }[];
      }
    ).scopeSpans[0]!;
    expect(span.scope).toMatchObject({ name: 'otlp-json-test', version: '1.2.3' });
    const s = span.spans[0]!;
    expect(s).toMatchObject({
      traceId: child!.spanContext().traceId,
      spanId: child!.spanContext().spanId,
      parentSpanId: parent!.spanContext().spanId,
      name: 'GET',
      kind: 3,
      status: { code: 2, message: 'boom' },
      startTimeUnixNano: hrTimeToNanosString(child!.startTime),
    });
    expect(typeof s.endTimeUnixNano).toBe('string');
    expect((s.events as unknown[]).length).toBe(1);
    expect(JSON.parse(JSON.stringify(payload))).toEqual(payload);
  });

  it('the span.start payload follows the contract, attributes as OTLP KeyValue', () => {
    const payload = spanStartPayload(child!);
    expect(Object.keys(payload).sort()).toEqual(
      ['attributes', 'name', 'parentSpanId', 'spanId', 'startTimeUnixNano', 'traceId'].sort(),
    );
    expect(isPlainJson(payload)).toBe(true);
    const byKey = Object.fromEntries(payload.attributes.map((kv) => [kv.key, kv.value]));
    expect(byKey['tool.name']).toEqual({ stringValue: 'search' });
    expect(byKey.ratio).toEqual({ doubleValue: 0.25 });
    expect(byKey.count).toEqual({ intValue: 3 });
    expect(byKey.weird).toEqual({ doubleValue: 'NaN' });
    expect(byKey.negzero).toEqual({ intValue: 0 });
    expect(byKey.list).toEqual({
      arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] },
    });
    expect(spanStartPayload(parent!).parentSpanId).toBeUndefined();
  });

  it('tags index the span by run, agent, principal, tool, tenant, ids and status', () => {
    expect(spanRecordTags(child!)).toEqual({
      run: 'run-1',
      agent: 'agent-1',
      principal: 'user:1',
      tool: 'search',
      tenant: 't1',
      trace: child!.spanContext().traceId,
      span: child!.spanContext().spanId,
      parent: parent!.spanContext().spanId,
      status: 'error',
    });
    expect(spanRecordTags(parent!)).toEqual({
      trace: parent!.spanContext().traceId,
      span: parent!.spanContext().spanId,
      status: 'ok',
    });
    expect(spanRecordTags(parent!, false).status).toBeUndefined();
  });

  it('encodes nanosecond timestamps exactly, beyond 2^53', () => {
    expect(hrTimeToNanosString([1_700_000_000, 123_456_789])).toBe('1700000000123456789');
    expect(hrTimeToNanosString([0, 5])).toBe('5');
  });

  it('matches JsonTraceSerializer field for field, for every shape of span', () => {
    const remoteParent = trace.setSpanContext(context.active(), {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
      isRemote: true,
      traceState: new TraceState('vendor=abc,other=1'),
    });
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      sampler: new AlwaysOnSampler(),
      resource: resourceFromAttributes({ 'service.name': 'svc', 'service.version': '1', n: 3 }),
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const scoped = provider.getTracer('scope-a');
    const versioned = provider.getTracer('scope-b', '2.0.0', {
      schemaUrl: 'https://opentelemetry.io/schemas/1.27.0',
    });
    const kinds = [
      SpanKind.INTERNAL,
      SpanKind.SERVER,
      SpanKind.CLIENT,
      SpanKind.PRODUCER,
      SpanKind.CONSUMER,
    ];
    for (const [i, kind] of kinds.entries()) {
      const tracer = i % 2 ? scoped : versioned;
      const span = tracer.startSpan(
        `span-${i}`,
        {
          kind,
          attributes: {
            s: 'x',
            i,
            d: i + 0.5,
            b: i % 2 === 0,
            arr: [1, 2, i],
            strs: ['a', `${i}`],
          },
          links:
            i === 2
              ? [{ context: trace.getSpanContext(remoteParent)!, attributes: { why: 'batch' } }]
              : [],
        },
        i < 2 ? remoteParent : context.active(),
      );
      span.addEvent('ev', { k: 'v', n: i });
      span.addEvent('bare');
      if (i === 3) span.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
      if (i === 4) span.setStatus({ code: SpanStatusCode.OK });
      span.end();
    }
    const finished = exporter.getFinishedSpans();
    expect(finished).toHaveLength(kinds.length);
    for (const span of finished) {
      const fast = spanEndPayload(span);
      const unsorted: string[] = [];
      unsortedKeys(fast, span.name, unsorted);
      expect(unsorted).toEqual([]);
      expect(isPlainJson(fast)).toBe(true);
      expect(fast).toStrictEqual(spanEndPayloadViaSerializer(span));
    }
  });

  it('builds every object with its keys in sorted order, so canonical JSON is plain JSON.stringify', () => {
    const unsorted: string[] = [];
    for (const span of spans) {
      unsortedKeys(spanEndPayload(span), 'end', unsorted);
      unsortedKeys(spanStartPayload(span), 'start', unsorted);
      unsortedKeys(spanRecordTags(span), 'tags', unsorted);
    }
    expect(unsorted).toEqual([]);
  });

  it('writes the same record bytes with recurring parts as canonical fragments (RecordTexts)', () => {
    // The canonical text of a payload, as the store's records hold it.
    const writer = new StrictJsonWriter();
    const canonical = (payload: unknown) => writer.stringify(payload);
    const texts = new RecordTexts();
    const changing = endedSpans((tracer) => {
      for (let i = 0; i < 6; i++) {
        const span = tracer.startSpan(`span-${i % 2}`, {
          attributes: {
            'workflow.run_id': 'run-1',
            same: 'constant',
            every_other: i % 2 === 0 ? 'even' : 'odd',
            n: i % 3,
            f: i + 0.5,
            nan: Number.NaN,
            negzero: -0,
            flag: i % 2 === 0,
            list: ['a', `${i}`],
            long: `${'long value '.repeat(120)}${i % 2}`,
            escaped: `quote " backslash \\ line\n ${'\u2028'} lone ${'\ud800'} ${i % 2}`,
          },
        });
        span.addEvent('ev', { k: 'v', n: i });
        span.end();
      }
    });
    // Twice each: a first pass fills the texts, a second one hits them.
    for (const span of [...spans, ...changing, ...spans, ...changing]) {
      expect(canonical(spanEndPayload(span, texts))).toBe(canonical(spanEndPayload(span)));
      expect(canonical(spanStartPayload(span, texts))).toBe(canonical(spanStartPayload(span)));
      // Through JSON.stringify (a sink that is not the store): the same JSON value.
      expect(JSON.parse(JSON.stringify(spanEndPayload(span, texts)))).toStrictEqual(
        JSON.parse(JSON.stringify(spanEndPayload(span))),
      );
    }
  });

  it('spells a non-finite double the protobuf-JSON way instead of losing it as null', () => {
    const span = child!;
    const attr = (payload: { resourceSpans: unknown[] }) =>
      (
        payload.resourceSpans[0] as {
          scopeSpans: { spans: { attributes: { key: string; value: unknown }[] }[] }[];
        }
      ).scopeSpans[0]!.spans[0]!.attributes.find((kv) => kv.key === 'weird')!.value;
    expect(attr(spanEndPayloadViaSerializer(span))).toEqual({ doubleValue: null });
    expect(attr(spanEndPayload(span))).toEqual({ doubleValue: 'NaN' });
  });
});
