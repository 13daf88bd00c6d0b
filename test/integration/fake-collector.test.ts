import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeCollector, startFakeCollector } from '../support/fake-collector.js';
import { buildTraceRequest } from '../support/otlp-json.js';

// The scripted fake collector is what the forwarder's 429/5xx/400/black-hole tests stand on,
// so its own behaviour is pinned here: a fake that silently answered 200 to everything would
// make those tests pass for the wrong reason.

function batch(n: number) {
  return buildTraceRequest({
    serviceName: 'fake-collector-test',
    spans: Array.from({ length: n }, (_, i) => ({ name: `span-${i}` })),
  });
}

async function post(url: string, body: string | Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('fake collector', () => {
  let fake: FakeCollector | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('answers the script in order, then the fallback, and records every request', async () => {
    fake = await startFakeCollector({
      script: [{ status: 200 }, { status: 429, retryAfter: 2 }, { status: 500 }, { status: 400 }],
    });
    const batches = [batch(2), batch(3), batch(1), batch(4), batch(5)];
    const answers = [];
    for (const b of batches) answers.push(await post(fake.tracesUrl, JSON.stringify(b.body)));

    expect(answers.map((a) => a.status)).toEqual([200, 429, 500, 400, 200]);
    expect(answers[1]!.retryAfter).toBe('2');
    expect(answers[0]!.retryAfter).toBeNull();
    expect(JSON.parse(answers[0]!.text)).toEqual({ partialSuccess: {} });

    const ids = batches.map((b) => b.spans.map((s) => s.spanId));
    expect(fake.requests.map((r) => r.spanIds)).toEqual(ids);
    expect(fake.acceptedSpanIds()).toEqual(new Set([...ids[0]!, ...ids[4]!]));
    expect(fake.spanIdsAnswered(400)).toEqual(new Set(ids[3]));
    const sizes = batches.map((b) => Buffer.byteLength(JSON.stringify(b.body)));
    expect(fake.requests.map((r) => r.bytes)).toEqual(sizes);
    expect(fake.bytesReceived).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(fake.requests.every((r) => r.path === '/v1/traces' && r.method === 'POST')).toBe(true);
    expect(fake.inFlight).toBe(0);
  });

  it('takes replies pushed later and a new fallback', async () => {
    fake = await startFakeCollector({
      fallback: { status: 503, retryAfter: 'Wed, 21 Oct 2065 07:28:00 GMT' },
    });
    expect((await post(fake.tracesUrl, '{}')).status).toBe(503);
    fake.push({ status: 200 });
    expect((await post(fake.tracesUrl, '{}')).status).toBe(200);
    fake.setFallback({ status: 502 });
    expect((await post(fake.tracesUrl, '{}')).status).toBe(502);
  });

  it('decodes gzip bodies to find span ids, and records bytes as sent', async () => {
    fake = await startFakeCollector();
    const b = batch(3);
    const zipped = gzipSync(JSON.stringify(b.body));
    expect((await post(fake.tracesUrl, zipped, { 'content-encoding': 'gzip' })).status).toBe(200);
    expect(fake.requests[0]!.spanIds).toEqual(b.spans.map((s) => s.spanId));
    expect(fake.requests[0]!.bytes).toBe(zipped.length);
  });

  it('black hole: accepts, never answers, counts in-flight requests until the client gives up', async () => {
    fake = await startFakeCollector({ fallback: { blackHole: true } });
    const b = batch(1);
    const clients = Array.from({ length: 4 }, () =>
      fetch(fake!.tracesUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(b.body),
        signal: AbortSignal.timeout(400),
      }),
    );
    const results = await Promise.allSettled(clients);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(fake.requests).toHaveLength(4);
    expect(fake.maxInFlight).toBe(4);
    expect(fake.requests.every((r) => r.answeredStatus === undefined)).toBe(true);
    expect(fake.requests[0]!.spanIds).toEqual([b.spans[0]!.spanId]);
    await until(() => fake!.inFlight === 0);
    expect(fake.acceptedSpanIds().size).toBe(0);
  });

  it('black hole without reading: a large body backs up in the client', async () => {
    fake = await startFakeCollector({ fallback: { blackHole: true, readBody: false } });
    const size = 16 * 1024 * 1024;
    const req = request(fake.tracesUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(size) },
    });
    req.on('error', () => {});
    const flushed = req.write(Buffer.alloc(size, 0x20));
    await fake.waitForRequests(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(flushed).toBe(false);
    expect(fake.bytesReceived).toBe(0);
    expect(fake.inFlight).toBe(1);
    fake.releaseBlackHoles();
    await until(() => fake!.inFlight === 0);
    req.destroy();
  });

  it('reset: the client sees the connection drop without an answer', async () => {
    fake = await startFakeCollector({ script: [{ reset: true }] });
    await expect(post(fake.tracesUrl, JSON.stringify(batch(1).body))).rejects.toThrow();
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.answeredStatus).toBeUndefined();
    expect((await post(fake.tracesUrl, '{}')).status).toBe(200);
  });

  it('slow: answers after the scripted delay', async () => {
    fake = await startFakeCollector({ script: [{ status: 200, delayMs: 300 }] });
    let answered = false;
    const pending = post(fake.tracesUrl, '{}').finally(() => {
      answered = true;
    });
    await fake.waitForRequests(1);
    expect(answered).toBe(false);
    expect(fake.inFlight).toBe(1);
    expect((await pending).status).toBe(200);
  });

  it('waitForRequests fails with the count it saw', async () => {
    fake = await startFakeCollector();
    await expect(fake.waitForRequests(1, 100)).rejects.toThrow(/0 of 1 request\(s\) within 100 ms/);
  });

  it('close() ends black-hole connections too', async () => {
    fake = await startFakeCollector({ fallback: { blackHole: true } });
    const pending = post(fake.tracesUrl, '{}');
    await fake.waitForRequests(1);
    await fake.close();
    await expect(pending).rejects.toThrow();
    expect(fake.openConnections).toBe(0);
  });
});
