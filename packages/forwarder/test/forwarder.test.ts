import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Forwarder, type ForwarderRecord, type ForwarderSource } from '../src/forwarder.js';
import { readForwarderCursor } from '../src/forwarder-state.js';

interface Received {
  spanIds: string[];
  status: number;
}

type Responder = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A scripted OTLP/HTTP endpoint: each request gets the next responder (the last one repeats). */
class ScriptedEndpoint {
  readonly received: Received[] = [];
  private server: Server;
  private script: Responder[] = [];
  private hanging: ServerResponse[] = [];
  url = '';

  constructor() {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        const responder = this.script.length > 1 ? this.script.shift()! : this.script[0]!;
        responder(req, res, body);
      });
    });
  }

  async start(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/traces`;
  }

  respond(...script: Responder[]): void {
    this.script = script;
  }

  ok(): Responder {
    return (_req, res, body) => {
      this.received.push({ spanIds: spanIdsOf(body), status: 200 });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    };
  }

  status(code: number, headers: Record<string, string> = {}): Responder {
    return (_req, res, body) => {
      this.received.push({ spanIds: spanIdsOf(body), status: code });
      res.writeHead(code, headers).end(`scripted ${code}`);
    };
  }

  /** Answers 200 with its headers, then never sends the rest of the body. */
  endlessBody(): Responder {
    return (_req, res, body) => {
      this.received.push({ spanIds: spanIdsOf(body), status: 0 });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{');
      this.hanging.push(res);
    };
  }

  blackHole(): Responder {
    return (_req, res, body) => {
      this.received.push({ spanIds: spanIdsOf(body), status: 0 });
      this.hanging.push(res);
    };
  }

  delivered(): string[] {
    return this.received.filter((r) => r.status === 200).flatMap((r) => r.spanIds);
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    this.server.close();
  }
}

function spanIdsOf(body: string): string[] {
  const req = JSON.parse(body) as {
    resourceSpans: { scopeSpans: { spans: { spanId: string }[] }[] }[];
  };
  return req.resourceSpans.flatMap((rs) =>
    rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.spanId)),
  );
}

function spanRecord(seq: number): ForwarderRecord {
  const spanId = seq.toString(16).padStart(16, '0');
  return {
    seq,
    type: 'span.end',
    payload: {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'fwd-test' } }] },
          scopeSpans: [
            {
              scope: { name: 'test' },
              spans: [
                {
                  traceId: '0af7651916cd43dd8448eb211c80319c',
                  spanId,
                  name: `span ${seq}`,
                  kind: 1,
                  startTimeUnixNano: '1700000000000000000',
                  endTimeUnixNano: '1700000000000001000',
                  attributes: [],
                  status: { code: 0 },
                },
              ],
            },
          ],
        },
      ],
    },
  };
}

/** An append-only record list standing in for the store reader (the real store is tested elsewhere). */
class MemorySource implements ForwarderSource {
  records: ForwarderRecord[] = [];
  reads = 0;
  add(n: number, type = 'span.end'): void {
    for (let i = 0; i < n; i++) {
      const seq = this.records.length;
      this.records.push(type === 'span.end' ? spanRecord(seq) : { seq, type, payload: { n: seq } });
    }
  }
  recordsFrom(seq: number, limit: number): ForwarderRecord[] {
    this.reads++;
    return this.records.filter((r) => r.seq >= seq).slice(0, limit);
  }
  headSeq(): number | undefined {
    return this.records.length === 0 ? undefined : this.records.length - 1;
  }
  spanIds(): string[] {
    return this.records
      .filter((r) => r.type === 'span.end')
      .map((r) => spanRecord(r.seq).payload)
      .map((p) => spanIdsOf(JSON.stringify(p))[0]!);
  }
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Forwarder', () => {
  let dir: string;
  let endpoint: ScriptedEndpoint;
  const forwarders: Forwarder[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aa-fwd-'));
    endpoint = new ScriptedEndpoint();
    await endpoint.start();
  });

  afterEach(async () => {
    for (const f of forwarders.splice(0)) await f.stop();
    await endpoint.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function make(
    source: ForwarderSource,
    extra: Partial<ConstructorParameters<typeof Forwarder>[0]> = {},
  ) {
    const f = new Forwarder({
      storeDir: dir,
      source,
      endpoint: endpoint.url,
      minBackoffMillis: 20,
      maxBackoffMillis: 100,
      ...extra,
    });
    forwarders.push(f);
    return f;
  }

  it('delivers every span once in store order, in bounded batches, and persists the cursor', async () => {
    endpoint.respond(endpoint.ok());
    const source = new MemorySource();
    source.add(25);
    const f = make(source, { maxBatchRecords: 10 });
    const result = await f.drain();
    expect(result).toMatchObject({ ok: true, delivered: 25, nextSeq: 25 });
    expect(endpoint.received.map((r) => r.spanIds.length)).toEqual([10, 10, 5]);
    expect(endpoint.delivered()).toEqual(source.spanIds());
    expect(readForwarderCursor(dir)).toMatchObject({ nextSeq: 25, delivered: 25 });

    // A new forwarder (a restarted process) resumes at the cursor: only new records go.
    source.add(3);
    const again = make(source);
    expect(await again.drain()).toMatchObject({ ok: true, nextSeq: 28, delivered: 28 });
    expect(endpoint.delivered()).toEqual(source.spanIds());
  });

  it('is woken by new records and forwards them without being awaited', async () => {
    endpoint.respond(endpoint.ok());
    const source = new MemorySource();
    const f = make(source);
    f.wake();
    source.add(4);
    f.wake();
    await waitFor(() => endpoint.delivered().length === 4, '4 spans');
    source.add(2);
    f.wake();
    await waitFor(() => endpoint.delivered().length === 6, '6 spans');
    expect(endpoint.delivered()).toEqual(source.spanIds());
    expect((await f.status()).pendingRecords).toBe(0);
  });

  it('keeps the cursor on 500 and 429, records the error, and delivers after recovery', async () => {
    endpoint.respond(
      endpoint.status(500),
      endpoint.status(503),
      endpoint.status(429, { 'retry-after': '0' }),
      endpoint.ok(),
    );
    const source = new MemorySource();
    source.add(5);
    const f = make(source);
    f.wake();
    await waitFor(() => readForwarderCursor(dir).nextSeq === 5, 'cursor after retries');
    expect(endpoint.received.map((r) => r.status)).toEqual([500, 503, 429, 200]);
    // Each retry re-sent the same batch: the cursor never moved past unacknowledged spans.
    for (const r of endpoint.received) expect(r.spanIds).toEqual(source.spanIds());
    const cursor = readForwarderCursor(dir);
    expect(cursor.lastError).toMatch(/answered 429/);
  });

  it('honours Retry-After: the next attempt is scheduled no earlier than it says', async () => {
    endpoint.respond(endpoint.status(429, { 'retry-after': '120' }));
    const source = new MemorySource();
    source.add(2);
    const f = make(source, { maxRetryAfterMillis: 600_000 });
    const before = Date.now();
    f.wake();
    await waitFor(async () => (await f.status()).state === 'backoff', 'backoff');
    const status = await f.status();
    expect(Date.parse(status.retryAt!) - before).toBeGreaterThanOrEqual(119_000);
    expect(status.nextSeq).toBe(0);
    expect(status.lastError).toMatch(/429/);
    expect(endpoint.received).toHaveLength(1);
  });

  it('moves a batch the endpoint rejects with 400 to the dead-letter file and goes on', async () => {
    endpoint.respond(endpoint.status(400), endpoint.ok());
    const source = new MemorySource();
    source.add(3);
    const f = make(source, { maxBatchRecords: 2 });
    const result = await f.drain();
    expect(result).toMatchObject({ ok: true, deadLetterSpans: 2, delivered: 1, nextSeq: 3 });
    const lines = readFileSync(join(dir, 'forwarder', 'dead-letter.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(lines).toHaveLength(1);
    const dead = JSON.parse(lines[0]!) as {
      fromSeq: number;
      toSeq: number;
      spans: number;
      request: unknown;
    };
    expect(dead).toMatchObject({ fromSeq: 0, toSeq: 1, spans: 2 });
    expect(spanIdsOf(JSON.stringify(dead.request))).toEqual(source.spanIds().slice(0, 2));
    expect(endpoint.delivered()).toEqual(source.spanIds().slice(2));
    expect(readForwarderCursor(dir)).toMatchObject({ deadLetterBatches: 1, deadLetterSpans: 2 });
  });

  it('halves a batch on 413 and dead-letters only a single span that is still too large', async () => {
    let calls = 0;
    endpoint.respond((req, res, body) => {
      calls++;
      const ids = spanIdsOf(body);
      if (ids.length > 2 || ids.includes('0000000000000005')) {
        endpoint.received.push({ spanIds: ids, status: 413 });
        res.writeHead(413).end();
        return;
      }
      endpoint.ok()(req, res, body);
    });
    const source = new MemorySource();
    source.add(8);
    const f = make(source, { maxBatchRecords: 8 });
    const result = await f.drain();
    expect(result.ok).toBe(true);
    expect(endpoint.delivered().sort()).toEqual(
      source
        .spanIds()
        .filter((id) => id !== '0000000000000005')
        .sort(),
    );
    expect(result.deadLetterSpans).toBe(1);
    expect(calls).toBeGreaterThan(3);
  });

  it('splices stored payload text as is when the source gives it unparsed', async () => {
    endpoint.respond(endpoint.ok());
    const source = new MemorySource();
    source.add(3);
    const raw: ForwarderSource = {
      recordsFrom: (seq, limit) =>
        source.recordsFrom(seq, limit).map((r) => ({
          seq: r.seq,
          type: r.type,
          payloadJson: JSON.stringify(r.payload),
        })),
    };
    const result = await make(raw).drain();
    expect(result).toMatchObject({ ok: true, delivered: 3, nextSeq: 3 });
    expect(endpoint.delivered()).toEqual(source.spanIds());
  });

  it('skips records that are not spans without sending an empty request', async () => {
    endpoint.respond(endpoint.ok());
    const source = new MemorySource();
    source.add(2, 'checkpoint');
    source.add(1);
    source.add(1, 'span.start');
    const result = await make(source).drain();
    expect(result).toMatchObject({ ok: true, nextSeq: 4, delivered: 1 });
    expect(endpoint.received).toHaveLength(1);
    expect(endpoint.delivered()).toEqual(['0000000000000002']);
  });

  it('times out on a black-hole endpoint, keeps the cursor, and reports why a drain failed', async () => {
    endpoint.respond(endpoint.blackHole());
    const source = new MemorySource();
    source.add(3);
    const f = make(source, { requestTimeoutMillis: 200 });
    const result = await f.drain({ timeoutMillis: 1_000 });
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/failed/);
    expect(result.nextSeq).toBe(0);
    // One request at a time: never more than one hanging request for this forwarder.
    expect(endpoint.received.length).toBeGreaterThanOrEqual(1);
    expect(readForwarderCursor(dir).nextSeq).toBe(0);
  });

  it('a black hole in the background loop is an error (lastErrorAt), retried with backoff, the cursor kept — garbage collection included', async () => {
    // What a busy agent does while its collector holds requests open (a Kafka outage behind
    // the collector): allocate and collect. The request deadline must survive a collection.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    endpoint.respond(endpoint.blackHole());
    const source = new MemorySource();
    source.add(3);
    const f = make(source, { requestTimeoutMillis: 300 });
    const collecting = setInterval(gc, 25);
    try {
      f.wake();
      await waitFor(
        async () => (await f.status()).consecutiveFailures >= 2 && endpoint.received.length >= 2,
        'two timed-out requests to the black hole',
      );
    } finally {
      clearInterval(collecting);
    }
    const status = await f.status();
    expect(status.lastErrorAt).toBeDefined();
    expect(status.lastError).toMatch(/request to .* failed: no answer within 300 ms/);
    expect(status.nextSeq).toBe(0);
    expect(status.pendingRecords).toBe(3);
    // The first failure of the outage is on disk for `agent-audit status` in another process.
    expect(readForwarderCursor(dir)).toMatchObject({ nextSeq: 0 });
    expect(readForwarderCursor(dir).lastErrorAt).toBeDefined();

    // The collector answers again: the same spans go, the cursor moves.
    endpoint.respond(endpoint.ok());
    await waitFor(async () => (await f.status()).nextSeq === 3, 'delivery after the outage');
    expect(endpoint.delivered()).toEqual(source.spanIds());
  });

  it('an answer whose body never ends times out too, and the cursor stays', async () => {
    endpoint.respond(endpoint.endlessBody());
    const source = new MemorySource();
    source.add(2);
    const f = make(source, { requestTimeoutMillis: 300 });
    const result = await f.drain({ timeoutMillis: 0 });
    expect(result).toMatchObject({ ok: false, nextSeq: 0 });
    expect(result.reason).toMatch(/no answer within 300 ms/);
    expect((await f.status()).lastErrorAt).toBeDefined();
  });

  it('a drain keeps its deadline even while a request hangs on a black hole', async () => {
    endpoint.respond(endpoint.blackHole());
    const source = new MemorySource();
    source.add(2);
    const f = make(source, { requestTimeoutMillis: 120_000 });
    f.wake();
    await waitFor(() => endpoint.received.length === 1, 'the hanging request');
    const result = await f.drain({ timeoutMillis: 300 });
    expect(result).toMatchObject({ ok: false, nextSeq: 0 });
    expect(result.reason).toMatch(/still unanswered/);
    await f.stop();
    expect((await f.status()).state).toBe('stopped');
  });

  it('reports an unreachable endpoint through drain and status, losing nothing', async () => {
    await endpoint.stop();
    const source = new MemorySource();
    source.add(2);
    const f = make(source);
    const result = await f.drain({ timeoutMillis: 0 });
    expect(result).toMatchObject({ ok: false, nextSeq: 0 });
    const status = await f.status();
    expect(status.pendingRecords).toBe(2);
    expect(status.lastError).toMatch(/request to .* failed/);
  });

  it('a store that cannot be read ends a drain with the reason, and shows in status', async () => {
    endpoint.respond(endpoint.ok());
    const broken: ForwarderSource = {
      recordsFrom() {
        throw new Error('RECORD_HASH_MISMATCH: segment 1 seq 3');
      },
    };
    const f = make(broken);
    const result = await f.drain();
    expect(result).toMatchObject({
      ok: false,
      reason: expect.stringContaining('RECORD_HASH_MISMATCH'),
    });
    f.wake();
    await waitFor(
      async () => (await f.status()).consecutiveFailures > 0,
      'a failed background pass',
    );
    expect((await f.status()).lastError).toMatch(/RECORD_HASH_MISMATCH/);
    expect(endpoint.received).toHaveLength(0);
  });

  it('refuses bad options with a Configuration error', () => {
    const source = new MemorySource();
    expect(() => make(source, { maxBatchRecords: 0 })).toThrow(
      /Configuration: maxBatchRecords is invalid, expected a positive integer \(actual: 0\)/,
    );
    expect(() => make(source, { endpoint: 'ftp://x' })).toThrow(/Configuration: otlpEndpoint/);
  });
});
