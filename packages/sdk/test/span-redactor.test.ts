import { randomBytes, randomUUID } from 'node:crypto';
import type { SpanOptions } from '@opentelemetry/api';
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
function redacted(
  redactor: SpanRedactor,
  setup: (span: Span) => void,
  options: SpanOptions = {},
): ReadableSpan {
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
  const span = provider.getTracer('t').startSpan('work', options) as unknown as Span;
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

  it('leaves the action key and input shape intact in their own format, and scans any other value there', () => {
    const actionKey = `ak:${randomBytes(32).toString('hex')}`;
    const shape = `shape:${randomBytes(32).toString('hex')}`;
    const clean = redacted(new SpanRedactor(), (s) => {
      s.setAttribute('decision.action_key', actionKey);
      s.setAttribute('input.shape', shape);
    });
    expect(clean.attributes['decision.action_key']).toBe(actionKey);
    expect(clean.attributes['input.shape']).toBe(shape);
    expect(clean.attributes['audit.redactions']).toBeUndefined();
    // A caller's own action key, or a value that only starts like one, is scanned as any text.
    const key = `sk-${'live'}${'Z9y8X7w6'.repeat(4)}`;
    const jwt = `eyJhbGciOiJIUzI1NiJ9.${'eyJzdWIiOiIxMjM0NTY3ODkwIn0'}.${'s'.repeat(43)}`;
    const hostile = redacted(new SpanRedactor(), (s) => {
      s.setAttribute('decision.action_key', `ak:${key}`);
      s.setAttribute('input.shape', `${shape} ${jwt}`);
      s.setAttribute('gen_ai.tool.name', actionKey);
    });
    expect(hostile.attributes['decision.action_key']).not.toContain(key);
    expect(hostile.attributes['input.shape']).not.toContain(jwt);
    expect(hostile.attributes['audit.redactions']).toBe(2);
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

  it('redacts secrets in event names, attribute keys and link attributes (row 44)', () => {
    const npm = `npm_${'Ab3dEf7hIj'.repeat(3)}Kl9nOp`;
    const pw = `Zq8/#@:%x${'w'.repeat(4)}`;
    const url = `postgres://app:${pw}@db.internal:5432/orders`;
    const linked = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
    };
    const span = redacted(
      new SpanRedactor(),
      (s) => {
        s.setAttribute(`header.${npm}`, 'x');
        s.setAttribute('[REDACTED:npm_token]', 'already there');
        s.addEvent(`connect ${url}`, { [`dsn ${url}`]: url });
      },
      { links: [{ context: linked, attributes: { 'peer.url': url, [npm]: 1 } }] },
    );
    const all = JSON.stringify({
      name: span.name,
      attributes: span.attributes,
      events: span.events,
      links: span.links,
    });
    expect(all).not.toContain(npm);
    expect(all).not.toContain(pw);
    expect(span.events[0]!.name).toBe(
      'connect postgres://[REDACTED:url_credentials]@db.internal:5432/orders',
    );
    // The value moves under the redacted key; a key already there is not overwritten.
    expect(span.attributes['header.[REDACTED:npm_token]']).toBe('x');
    expect(span.attributes['[REDACTED:npm_token]']).toBe('already there');
    expect(span.links[0]!.attributes!['[REDACTED:npm_token]']).toBe(1);
    expect(span.links[0]!.attributes!['peer.url']).toContain('[REDACTED:url_credentials]');
    expect(span.attributes['audit.redaction_kinds']).toEqual(['npm_token', 'url_credentials']);
    expect(span.attributes['audit.redactions']).toBe(6);
  });

  it('redacts inside nested attribute values (maps, mixed arrays, bytes) that the SDK accepts', () => {
    const npm = `npm_${'Zx8cVb7nMq'.repeat(3)}Lk2jHg`;
    const pw = `Qp7/#@:%r${'s'.repeat(4)}`;
    const span = redacted(new SpanRedactor(), (s) => {
      // sdk-trace 3 keeps AnyValue attributes (OTLP kvlist, arrays of them, bytes).
      const set = s.setAttribute.bind(s) as (key: string, value: unknown) => void;
      set('config', { db: { dsn: `redis://:${pw}@cache:6379`, [`k.${npm}`]: 1 }, n: 2 });
      set('mixed', [1, `key ${npm}`, { note: 'ok' }]);
      set('blob', new TextEncoder().encode(`token file: ${npm}`));
    });
    const all = JSON.stringify(span.attributes, (_k, v) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v,
    );
    expect(all).not.toContain(npm);
    expect(all).not.toContain(pw);
    const config = span.attributes.config as unknown as { db: Record<string, unknown>; n: number };
    expect(config.n).toBe(2);
    expect(config.db.dsn).toBe('redis://[REDACTED:url_credentials]@cache:6379');
    expect(config.db['k.[REDACTED:npm_token]']).toBe(1);
    expect((span.attributes.mixed as unknown[])[2]).toEqual({ note: 'ok' });
    expect(span.attributes.blob).toBe('[REDACTED:npm_token]');
  });

  it('flags control characters and bidi overrides at capture, leaving the values as they were', () => {
    const redactor = new SpanRedactor();
    const esc = 'done\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007';
    const bidi = 'access granted \u202e// to admin \u2066';
    const flagged = redacted(redactor, (s) => {
      s.setAttribute('audit.violation', ['missing_mandatory_attribute']);
      s.setAttribute('tool.output', esc);
      s.addEvent(bidi);
    });
    expect(flagged.attributes['tool.output']).toBe(esc);
    expect(flagged.events[0]!.name).toBe(bidi);
    expect(flagged.attributes['audit.violation']).toEqual([
      'missing_mandatory_attribute',
      'control_characters',
      'bidi_override',
    ]);
    // C1 controls, a lone CR, DEL, and keys count too; TAB, LF and CRLF are ordinary text.
    for (const [text, code] of [
      ['csi \u009b2J', 'control_characters'],
      ['progress 10%\rprogress 99%', 'control_characters'],
      ['x\u007f', 'control_characters'],
      ['isolate \u2067x\u2069', 'bidi_override'],
    ] as const) {
      const s = redacted(redactor, (sp) => sp.setAttribute(`k ${text}`, 'ok'));
      expect(s.attributes['audit.violation'], JSON.stringify(text)).toEqual([code]);
    }
    const plain = redacted(redactor, (s) => {
      s.setAttribute('tool.output', 'line 1\r\nline 2\n\tindented, שלום \u200f');
    });
    expect(plain.attributes['audit.violation']).toBeUndefined();
    // A value seen clean before is remembered; the same key with a flagged value is not skipped.
    redacted(redactor, (s) => s.setAttribute('tool.output', 'same'));
    const again = redacted(redactor, (s) => s.setAttribute('tool.output', 'same\u001b[2J'));
    expect(again.attributes['audit.violation']).toEqual(['control_characters']);
    const twice = redacted(redactor, (s) => s.setAttribute('tool.output', 'same\u001b[2J'));
    expect(twice.attributes['audit.violation']).toEqual(['control_characters']);
  });

  it('refuses bad options with a Configuration error', () => {
    expect(() => new SpanRedactor({ redactFields: [''] })).toThrow(
      /Configuration: redactFields is invalid/,
    );
  });
});
