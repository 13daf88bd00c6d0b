import { randomBytes, randomUUID } from 'node:crypto';
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type Span,
  type SpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { SpanRedactor } from '../src/span-redactor.js';

/** Ends one span with `setup` applied, running the redactor in onEnding as the processor does. */
function redacted(redactor: SpanRedactor, setup: (span: Span) => void): ReadableSpan {
  const exporter = new InMemorySpanExporter();
  const onEnding: SpanProcessor = {
    onStart: () => undefined,
    onEnding: (span) => {
      redactor.redactSpan(span);
    },
    onEnd: () => undefined,
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
  };
  const provider = new TracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [onEnding, new SimpleSpanProcessor({ exporter })],
  });
  const span = provider.getTracer('t').startSpan('work') as unknown as Span;
  setup(span);
  span.end();
  return exporter.getFinishedSpans()[0]!;
}

describe('SpanRedactor', () => {
  it('replaces configured fields whole, in span and event attributes', () => {
    const span = redacted(new SpanRedactor({ redactFields: ['db.query.text'] }), (s) => {
      s.setAttribute('db.query.text', "select * from users where name = 'x'");
      s.addEvent('q', { 'db.query.text': 'select 1' });
    });
    expect(span.attributes['db.query.text']).toBe('[REDACTED:field]');
    expect(span.events[0]!.attributes!['db.query.text']).toBe('[REDACTED:field]');
    expect(span.attributes['audit.redactions']).toBe(2);
    expect(span.attributes['audit.redaction_kinds']).toEqual(['field']);
  });

  it('leaves ids and hashes intact, even where digit runs look like card numbers', () => {
    const ids: string[] = [];
    for (let i = 0; i < 3000; i++) ids.push(i % 2 ? randomUUID() : randomBytes(16).toString('hex'));
    const hash = `sha256:${randomBytes(32).toString('hex')}`;
    const span = redacted(new SpanRedactor(), (s) => {
      s.setAttribute('ids', ids);
      s.setAttribute('input.hash', hash);
      s.setAttribute('gen_ai.tool.call.id', ids[1]!);
    });
    expect(span.attributes.ids).toEqual(ids);
    expect(span.attributes['input.hash']).toBe(hash);
    expect(span.attributes['audit.redactions']).toBeUndefined();
  });

  it('masks personal data in free text but not in identity attributes; pii:false keeps both', () => {
    const setup = (s: Span) => {
      s.setAttribute('trigger.principal', 'user:ann@example.com');
      s.setAttribute('note', 'call ann@example.com or +44 20 7946 0958');
    };
    const masked = redacted(new SpanRedactor(), setup);
    expect(masked.attributes['trigger.principal']).toBe('user:ann@example.com');
    expect(masked.attributes.note).not.toContain('ann@example.com');
    expect(masked.attributes['audit.redaction_kinds']).toEqual(expect.arrayContaining(['email']));
    const kept = redacted(new SpanRedactor({ pii: false }), setup);
    expect(kept.attributes.note).toBe('call ann@example.com or +44 20 7946 0958');
  });

  it('redacts secrets in string arrays, the span name and the status message', () => {
    const key = `sk-${'live'}${'Z9y8X7w6'.repeat(4)}`;
    const span = redacted(new SpanRedactor(), (s) => {
      s.updateName(`POST https://api.example.com/?token=${'t'.repeat(16)}`);
      s.setAttribute('args', ['plain', `key ${key}`]);
      s.setStatus({ code: 2, message: `401 for ${key}` });
    });
    expect(span.name).not.toContain('tttttttttttttttt');
    expect((span.attributes.args as string[])[0]).toBe('plain');
    expect((span.attributes.args as string[])[1]).not.toContain(key);
    expect(span.status.message).not.toContain(key);
    expect(span.attributes['audit.redactions']).toBe(3);
  });

  it('refuses bad options with a Configuration error', () => {
    expect(() => new SpanRedactor({ redactFields: [''] })).toThrow(
      /Configuration: redactFields is invalid/,
    );
  });
});
