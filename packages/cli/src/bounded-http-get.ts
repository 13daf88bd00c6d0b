import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** What a GET waited for when it ran out of time. */
export type HttpPhase = 'connect' | 'headers' | 'body';

export interface BoundedGetOptions {
  /** The whole request, redirects included: connect, headers and body together. */
  timeoutMs: number;
  /** Bytes of body read at most; a longer answer is cut off and refused. */
  maxBytes: number;
  /** Redirects followed at most. The default value is 5. */
  maxRedirects?: number;
}

export interface BoundedAnswer {
  url: URL;
  status: number;
  statusText: string;
  contentType: string;
  body: Buffer;
}

/** Why a bounded GET failed, in terms a message can name (no stack trace needed). */
export type BoundedGetFailure =
  | { kind: 'timeout'; phase: HttpPhase; afterMs: number; bytes: number; url: URL }
  | { kind: 'too-large'; limit: number; declared: number | undefined; url: URL }
  | { kind: 'unreachable'; reason: string; phase: HttpPhase; url: URL }
  | { kind: 'cut-off'; bytes: number; url: URL }
  | { kind: 'redirects'; chain: URL[]; loop: boolean }
  | { kind: 'bad-redirect'; location: string; url: URL };

export class BoundedGetError extends Error {
  readonly failure: BoundedGetFailure;

  constructor(failure: BoundedGetFailure) {
    super(failure.kind);
    this.name = 'BoundedGetError';
    this.failure = failure;
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * A GET that a hostile or broken server cannot turn into unbounded memory, an endless wait or
 * a redirect loop: one deadline for the whole exchange (the failure says which phase it was
 * in), the body read up to `maxBytes`, redirects followed a few times and never in a circle.
 * A fetch() would hide the phase and buffer whatever the server sends.
 */
export async function boundedGet(url: URL, options: BoundedGetOptions): Promise<BoundedAnswer> {
  const deadline = Date.now() + options.timeoutMs;
  const maxRedirects = options.maxRedirects ?? 5;
  const chain: URL[] = [url];
  for (;;) {
    const current = chain[chain.length - 1]!;
    const answer = await getOnce(current, deadline, options);
    if (!REDIRECTS.has(answer.status)) return answer;
    const location = answer.location;
    let next: URL;
    try {
      next = new URL(location ?? '', current);
    } catch {
      throw new BoundedGetError({ kind: 'bad-redirect', location: location ?? '', url: current });
    }
    if (location === undefined || (next.protocol !== 'http:' && next.protocol !== 'https:')) {
      throw new BoundedGetError({ kind: 'bad-redirect', location: location ?? '', url: current });
    }
    const loop = chain.some((seen) => seen.href === next.href);
    chain.push(next);
    if (loop || chain.length > maxRedirects + 1) {
      throw new BoundedGetError({ kind: 'redirects', chain, loop });
    }
  }
}

function getOnce(
  url: URL,
  deadline: number,
  options: BoundedGetOptions,
): Promise<BoundedAnswer & { location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let phase: HttpPhase = 'connect';
    let bytes = 0;
    let settled = false;
    const finish = (
      error: BoundedGetError | undefined,
      answer?: BoundedAnswer & { location: string | undefined },
    ) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        reject(error);
        request.destroy();
      } else {
        resolve(answer!);
      }
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    // agent: false, so that every request has its own socket and its 'connect' marks the phase.
    const request = send(url, {
      method: 'GET',
      agent: false,
      headers: { accept: 'application/json' },
    });
    const timer = setTimeout(
      () =>
        finish(
          new BoundedGetError({
            kind: 'timeout',
            phase,
            afterMs: options.timeoutMs,
            bytes,
            url,
          }),
        ),
      Math.max(0, deadline - started),
    );
    request.on('socket', (socket) => {
      socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
        if (phase === 'connect') phase = 'headers';
      });
    });
    request.on('response', (response) => {
      phase = 'body';
      const header = response.headers['content-length'];
      const declared = header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
      if (declared !== undefined && declared > options.maxBytes) {
        finish(new BoundedGetError({ kind: 'too-large', limit: options.maxBytes, declared, url }));
        return;
      }
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > options.maxBytes) {
          finish(
            new BoundedGetError({ kind: 'too-large', limit: options.maxBytes, declared, url }),
          );
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () =>
        finish(undefined, {
          url,
          status: response.statusCode ?? 0,
          statusText: response.statusMessage ?? '',
          contentType: String(response.headers['content-type'] ?? ''),
          location: response.headers.location,
          body: Buffer.concat(chunks),
        }),
      );
      response.on('error', () => finish(new BoundedGetError({ kind: 'cut-off', bytes, url })));
      response.on('close', () => finish(new BoundedGetError({ kind: 'cut-off', bytes, url })));
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code ? `${error.code}: ${error.message}` : error.message;
      finish(
        new BoundedGetError(
          phase === 'body'
            ? { kind: 'cut-off', bytes, url }
            : { kind: 'unreachable', reason, phase, url },
        ),
      );
    });
    request.end();
  });
}
