// A scripted OTLP/HTTP collector for the forwarder's fault tests (docs/reliability.md rows 20–22):
// the real collector cannot be made to answer 429, 500 or 400, or to swallow requests, on
// demand. Each request takes the next reply from the script (then the fallback), and every
// request is recorded: bytes, headers, the span ids in an OTLP/JSON body, timing, and what it
// was answered, so a test can check cursor, backoff, Retry-After, dead-lettering and bounds.
//
//   const fake = await startFakeCollector({ script: [{ status: 503 }, { status: 429, retryAfter: 1 }] });
//   afterAll(() => fake.close());
//   … point the forwarder at fake.tracesUrl …
//   await fake.waitForRequests(3);
//   expect(fake.acceptedSpanIds()).toEqual(new Set(stored));
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';

export type FakeReply =
  /** An HTTP answer. 200 gets an empty ExportTraceServiceResponse unless `body` is given. */
  | {
      status: number;
      /** Seconds (a number) or an HTTP date (a string), sent as the Retry-After header. */
      retryAfter?: number | string;
      body?: string;
      /** Answer only after this many milliseconds (a slow collector). */
      delayMs?: number;
    }
  /**
   * Accepts the request and never answers; the connection stays open until the client gives
   * up or close()/releaseBlackHoles() runs. With `readBody: false` the body is not even read,
   * so a large body backs up in the client's socket buffer.
   */
  | { blackHole: true; readBody?: boolean }
  /** Reads the request, then destroys the connection without an answer (reset by peer). */
  | { reset: true };

export interface RecordedRequest {
  /** 0-based arrival order. */
  index: number;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** Body bytes as received (before any content-encoding is undone). */
  bytes: number;
  body: Buffer;
  /** The decoded OTLP/JSON body, when it was JSON. */
  json: unknown;
  /** `spanId`s of every span in an OTLP/JSON body, in order. */
  spanIds: string[];
  /** Date.now() when the request arrived (headers parsed). */
  receivedAt: number;
  /** The reply it was given. */
  reply: FakeReply;
  /** HTTP status sent, or undefined for black hole / reset (or not answered yet). */
  answeredStatus: number | undefined;
}

export interface FakeCollectorOptions {
  /** Replies for the first requests, in order. The default value is []. */
  script?: FakeReply[];
  /** The reply once the script is used up. The default value is `{ status: 200 }`. */
  fallback?: FakeReply;
  /** The default value is 0 (any free port on 127.0.0.1). */
  port?: number;
}

export interface FakeCollector {
  /** Base URL, e.g. `http://127.0.0.1:41234` (an OTEL_EXPORTER_OTLP_ENDPOINT value). */
  readonly url: string;
  /** `${url}/v1/traces`. */
  readonly tracesUrl: string;
  readonly port: number;
  /** Every request so far, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Body bytes received in total. */
  readonly bytesReceived: number;
  /** Requests received and not answered yet (black holes included). */
  readonly inFlight: number;
  /** The most requests ever in flight at once: a bound on the client's concurrency. */
  readonly maxInFlight: number;
  /** TCP connections open now / ever accepted. */
  readonly openConnections: number;
  readonly totalConnections: number;
  /** Appends replies to the script. */
  push(...replies: FakeReply[]): void;
  /** Replaces the reply used once the script is used up. */
  setFallback(reply: FakeReply): void;
  /** Resolves once at least `count` requests have arrived. The default timeout is 30000 ms. */
  waitForRequests(count: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Span ids of requests answered 2xx: what a real collector would have accepted. */
  acceptedSpanIds(): Set<string>;
  /** Span ids of requests answered `status`. */
  spanIdsAnswered(status: number): Set<string>;
  /** Destroys the connections of pending black-hole requests (the client sees a reset). */
  releaseBlackHoles(): void;
  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void>;
}

function decodeBody(req: IncomingMessage, raw: Buffer): Buffer {
  const encoding = String(req.headers['content-encoding'] ?? '').toLowerCase();
  if (encoding === 'gzip') return gunzipSync(raw);
  if (encoding === 'deflate') return inflateSync(raw);
  return raw;
}

function spanIdsOf(json: unknown): string[] {
  const ids: string[] = [];
  const resourceSpans = (json as { resourceSpans?: unknown[] } | null)?.resourceSpans;
  if (!Array.isArray(resourceSpans)) return ids;
  for (const rs of resourceSpans) {
    const scopeSpans = (rs as { scopeSpans?: unknown[] })?.scopeSpans;
    if (!Array.isArray(scopeSpans)) continue;
    for (const ss of scopeSpans) {
      const spans = (ss as { spans?: unknown[] })?.spans;
      if (!Array.isArray(spans)) continue;
      for (const span of spans) {
        const id = (span as { spanId?: unknown })?.spanId;
        if (typeof id === 'string') ids.push(id);
      }
    }
  }
  return ids;
}

export async function startFakeCollector(
  options: FakeCollectorOptions = {},
): Promise<FakeCollector> {
  const script: FakeReply[] = [...(options.script ?? [])];
  let fallback: FakeReply = options.fallback ?? { status: 200 };
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const blackHoles = new Set<Socket>();
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  let bytesReceived = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let totalConnections = 0;
  let closed = false;

  const notify = () => {
    for (const waiter of [...waiters]) {
      if (requests.length >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const reply = script.length > 0 ? script.shift()! : fallback;
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const record: RecordedRequest = {
      index: requests.length,
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      bytes: 0,
      body: Buffer.alloc(0),
      json: undefined,
      spanIds: [],
      receivedAt: Date.now(),
      reply,
      answeredStatus: undefined,
    };
    requests.push(record);
    // 'close' fires once the answer is sent or the connection is gone, whichever comes first:
    // black holes, resets and clients that give up all leave the in-flight count here.
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      inFlight -= 1;
    };
    res.once('close', done);

    if ('blackHole' in reply) {
      blackHoles.add(req.socket);
      req.socket.once('close', () => blackHoles.delete(req.socket));
      if (reply.readBody === false) {
        req.pause();
        notify();
        return;
      }
    }

    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      record.bytes += chunk.length;
      bytesReceived += chunk.length;
    });
    req.on('end', () => {
      record.body = Buffer.concat(chunks);
      try {
        const decoded = decodeBody(req, record.body);
        if (String(req.headers['content-type'] ?? '').includes('json')) {
          record.json = JSON.parse(decoded.toString('utf8'));
          record.spanIds = spanIdsOf(record.json);
        }
      } catch {
        // A body the fake cannot decode is still recorded raw; the test decides what it means.
      }
      notify();
      if ('blackHole' in reply) return;
      if ('reset' in reply) {
        req.socket.destroy();
        return;
      }
      const answer = () => {
        if (res.destroyed) return;
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (reply.retryAfter !== undefined) headers['retry-after'] = String(reply.retryAfter);
        const body =
          reply.body ??
          (reply.status >= 200 && reply.status < 300
            ? '{"partialSuccess":{}}'
            : JSON.stringify({ code: reply.status, message: `scripted ${reply.status}` }));
        record.answeredStatus = reply.status;
        res.writeHead(reply.status, headers);
        res.end(body);
      };
      if (reply.delayMs !== undefined && reply.delayMs > 0) setTimeout(answer, reply.delayMs);
      else answer();
    });
  });
  // A black hole must stay silent: no 408 from Node's own request timeout.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.keepAliveTimeout = 5_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    totalConnections += 1;
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake collector: no port');
  const url = `http://127.0.0.1:${address.port}`;

  return {
    url,
    tracesUrl: `${url}/v1/traces`,
    port: address.port,
    get requests() {
      return requests;
    },
    get bytesReceived() {
      return bytesReceived;
    },
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get openConnections() {
      return sockets.size;
    },
    get totalConnections() {
      return totalConnections;
    },
    push(...replies) {
      script.push(...replies);
    },
    setFallback(reply) {
      fallback = reply;
    },
    waitForRequests(count, timeoutMs = 30_000) {
      if (requests.length >= count) return Promise.resolve(requests.slice());
      return new Promise<RecordedRequest[]>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(
            new Error(
              `fake collector: ${requests.length} of ${count} request(s) within ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
        const waiter = {
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(requests.slice());
          },
        };
        waiters.push(waiter);
      });
    },
    acceptedSpanIds() {
      const ids = new Set<string>();
      for (const r of requests) {
        if (r.answeredStatus !== undefined && r.answeredStatus >= 200 && r.answeredStatus < 300) {
          for (const id of r.spanIds) ids.add(id);
        }
      }
      return ids;
    },
    spanIdsAnswered(status) {
      const ids = new Set<string>();
      for (const r of requests) {
        if (r.answeredStatus === status) for (const id of r.spanIds) ids.add(id);
      }
      return ids;
    },
    releaseBlackHoles() {
      for (const socket of blackHoles) socket.destroy();
    },
    async close() {
      if (closed) return;
      closed = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await stopped;
    },
  };
}
