import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface PostResult {
  status: number;
  retryAfter: string | null;
  body: string;
}

// One connection is all the forwarder uses (one request in flight); keep it alive between
// batches.
const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });

/** Answers are read for the error message and partial-success counts only. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs one OTLP/JSON body. Unlike `fetch`, the socket is unref'd: a request hanging on a
 * black-hole collector never keeps the agent process alive after its own work is done (what
 * was not acknowledged stays in the store for the next start or `agent-audit forward`).
 *
 * `timeoutMillis` bounds the whole exchange (connect, send, answer, body). It is a plain timer,
 * not `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: on Node 20 the composite holds its
 * timeout signal only weakly, so a garbage collection during a long request (any busy agent)
 * collected it and the request to a collector that never answers hung for good — no error, no
 * retry, nothing in `lastErrorAt` (nodejs/node#57736). A timer in the timer list cannot be
 * collected; it is unref'd and cleared when the request settles.
 */
export function postOtlpJson(
  url: URL,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  timeoutMillis: number,
): Promise<PostResult> {
  return new Promise<PostResult>((resolveOuter, rejectOuter) => {
    let timer: NodeJS.Timeout | undefined;
    const settle = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
    };
    const resolve = (result: PostResult) => {
      settle();
      resolveOuter(result);
    };
    const reject = (err: unknown) => {
      settle();
      rejectOuter(err);
    };
    const https = url.protocol === 'https:';
    const req = (https ? httpsRequest : httpRequest)(url, {
      method: 'POST',
      agent: https ? httpsAgent : httpAgent,
      headers: {
        ...headers,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      },
      signal,
    });
    timer = setTimeout(() => {
      const err = new Error(`no answer within ${timeoutMillis} ms (requestTimeoutMillis)`);
      err.name = 'TimeoutError';
      req.destroy(err);
    }, timeoutMillis);
    timer.unref();
    req.on('socket', (socket) => socket.unref());
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('error', reject);
      res.on('end', () => {
        const retryAfter = res.headers['retry-after'];
        resolve({
          status: res.statusCode ?? 0,
          retryAfter: Array.isArray(retryAfter) ? (retryAfter[0] ?? null) : (retryAfter ?? null),
          body: Buffer.concat(chunks).toString('utf8').slice(0, MAX_RESPONSE_BYTES),
        });
      });
    });
    req.end(body);
  });
}
