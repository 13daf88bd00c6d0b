import { describe, expect, it } from 'vitest';
import { renderHtmlReport } from '../src/html-report.js';
import { explainRun } from '../src/run-explanation.js';
import { runTimeline } from '../src/run-timeline.js';
import { demoRun, spanEndPayload } from './support/otlp-fixtures.js';

// A store can be copied, edited or written by a buggy SDK: whatever a record holds, reading it
// must not crash the CLI or produce markup from data. A seeded generator keeps failures replayable.
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function randomValue(next: () => number, depth = 0): unknown {
  const pick = Math.floor(next() * 10);
  switch (pick) {
    case 0:
      return null;
    case 1:
      return next() < 0.5;
    case 2:
      return Math.floor(next() * 2 ** 40) * (next() < 0.5 ? -1 : 1);
    case 3:
      return next() * 1e20;
    case 4:
      return ['<script>', '"', '', '\u0000', '12345678901234567890', 'ffff', '\ud800'][
        Math.floor(next() * 7)
      ];
    case 5:
      return String(Math.floor(next() * 1e18));
    default:
      if (depth > 3) return 'deep';
      if (pick < 8)
        return Array.from({ length: Math.floor(next() * 4) }, () => randomValue(next, depth + 1));
      return Object.fromEntries(
        [
          'traceId',
          'spanId',
          'parentSpanId',
          'name',
          'kind',
          'startTimeUnixNano',
          'endTimeUnixNano',
          'attributes',
          'events',
          'status',
          'resourceSpans',
          'scopeSpans',
          'spans',
          'key',
          'value',
          'stringValue',
          'intValue',
          'arrayValue',
          'values',
          'code',
        ]
          .filter(() => next() < 0.3)
          .map((k) => [k, randomValue(next, depth + 1)]),
      );
  }
}

/** Replace one random node of a valid payload with a random value. */
function mutate(value: unknown, next: () => number): unknown {
  if (typeof value !== 'object' || value === null || next() < 0.15) return randomValue(next);
  if (Array.isArray(value)) {
    if (value.length === 0) return value;
    const i = Math.floor(next() * value.length);
    return value.map((v, k) => (k === i ? mutate(v, next) : v));
  }
  const keys = Object.keys(value);
  const key = keys[Math.floor(next() * keys.length)]!;
  return {
    ...(value as Record<string, unknown>),
    [key]: mutate((value as Record<string, unknown>)[key], next),
  };
}

describe('reading untrusted records', () => {
  it('never throws on mutated OTLP payloads, and the report escapes whatever they hold', () => {
    const { ended } = demoRun();
    for (let seed = 1; seed <= 400; seed++) {
      const next = rng(seed);
      const records = ended.map((spec, i) => ({
        seq: i + 1,
        type: next() < 0.8 ? 'span.end' : 'span.start',
        payload: mutate(spanEndPayload(spec), next),
      }));
      const spans = runTimeline(records);
      const x = explainRun('run', spans);
      const html = renderHtmlReport(x, spans, new Date(0));
      expect(html, `seed ${seed}`).not.toContain('<script>');
      JSON.stringify(x);
    }
  });
});
