import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { renderHtmlReport } from '../html-report.js';
import { parseTimePoint } from '../parse-time.js';
import type { ConsoleData, RunQuery } from './console-data.js';
import { dashboardPage, indexingPage, notFoundPage, runPage, runsPage } from './console-pages.js';
import { evidenceBundle } from './evidence-bundle.js';
import { IndexNotReadyError } from './index-client.js';
import { waterfallView } from './waterfall-rows.js';

/**
 * The console's HTTP side: GET only (the console never changes anything), a strict
 * Content-Security-Policy on every answer (scripts and styles from /assets only: no inline
 * script, no CDN), a Host check against DNS rebinding, and on a non-loopback address an access
 * token on every request (compared in constant time).
 */

export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const COOKIE = 'agent_audit_console';

export interface ConsoleServerOptions {
  data: ConsoleData;
  host: string;
  port: number;
  /** Required on every request when set (always set for a non-loopback host). */
  token?: string;
  jaeger?: string;
  now: () => Date;
}

export interface RunningConsole {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return (
    host === '127.0.0.1' ||
    host === '::1' ||
    host === 'localhost' ||
    /^127\.\d+\.\d+\.\d+$/.test(host)
  );
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Constant-time token comparison (over digests, so unequal lengths take the same time too). */
export function tokenMatches(given: string | undefined, token: string): boolean {
  return given !== undefined && timingSafeEqual(digest(given), digest(token));
}

/**
 * The app bundle (scripts/build-console.mjs: the browser code with uPlot and the stylesheets,
 * bundled by esbuild into dist/console-app at build time): no CDN, no node_modules at run time.
 */
export const BUNDLE_DIR = new URL('../console-app/', import.meta.url);
const ASSETS: Record<string, { file: string; type: string }> = {
  'console.js': { file: 'console.js', type: 'text/javascript' },
  'console.css': { file: 'console.css', type: 'text/css' },
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': type,
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(body);
}

function json(
  res: ServerResponse,
  status: number,
  value: unknown,
  extra: Record<string, string> = {},
): void {
  send(
    res,
    status,
    'application/json; charset=utf-8',
    `${JSON.stringify(value, null, 1)}\n`,
    extra,
  );
}

const WINDOWS: Record<string, number> = {
  '5m': 300e3,
  '15m': 900e3,
  '1h': 3600e3,
  '24h': 86400e3,
  '7d': 604800e3,
  '90d': 7776000e3,
};

/** The runs query of a URL's parameters; times as `parse-time` reads them (`90d`, ISO). */
export function runQueryOf(params: URLSearchParams, now: Date): RunQuery {
  const text = (name: string) => {
    const v = params.get(name);
    return v === null || v.trim() === '' ? undefined : v.trim();
  };
  const time = (name: string) => {
    const v = text(name);
    if (v === undefined) return undefined;
    try {
      return parseTimePoint(v, name, now);
    } catch {
      throw new HttpError(
        400,
        `invalid ${name} value "${v}": expected a duration such as 90d or 12h, or an ISO 8601 time`,
      );
    }
  };
  const int = (name: string) => {
    const v = text(name);
    if (v === undefined) return undefined;
    if (!/^\d{1,6}$/.test(v))
      throw new HttpError(400, `invalid ${name} value "${v}": expected a positive integer`);
    return Number(v);
  };
  const q: RunQuery = {};
  for (const key of [
    'run',
    'principal',
    'agent',
    'tool',
    'tenant',
    'credential',
    'decision',
    'status',
  ] as const) {
    const v = text(key);
    if (v !== undefined) q[key] = v;
  }
  const since = time('since');
  const until = time('until');
  const page = int('page');
  const pageSize = int('page_size');
  if (since) q.since = since;
  if (until) q.until = until;
  if (page !== undefined) q.page = page;
  if (pageSize !== undefined) q.pageSize = pageSize;
  return q;
}

function windowOf(
  params: URLSearchParams,
  now: Date,
): { since?: Date; until?: Date; label: string } {
  const label = params.get('window') ?? '15m';
  if (label === 'all') return { label };
  const ms = WINDOWS[label];
  if (ms === undefined)
    throw new HttpError(
      400,
      `invalid window "${label}": expected one of ${Object.keys(WINDOWS).join(', ')}, all`,
    );
  return { since: new Date(now.getTime() - ms), until: now, label };
}

/** The cookie value set by a `?token=` visit. */
function cookieToken(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7) : undefined;
}

/** Starts the console's HTTP server; resolves once it listens. */
export async function startConsoleServer(options: ConsoleServerOptions): Promise<RunningConsole> {
  const { data, jaeger, now } = options;
  let boundPort = options.port;
  const hostAllowed = (req: IncomingMessage): boolean => {
    if (options.token !== undefined) return true; // the token protects a non-loopback bind
    const host = (req.headers.host ?? '').toLowerCase();
    return (
      host === `127.0.0.1:${boundPort}` ||
      host === `localhost:${boundPort}` ||
      host === `[::1]:${boundPort}`
    );
  };

  const timelines = new WeakMap<object, { text: Buffer; gzip: Buffer }>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(res, 405, { error: 'the console is read-only: GET only' }, { allow: 'GET, HEAD' });
      return;
    }
    if (!hostAllowed(req)) {
      json(res, 421, {
        error: 'unexpected Host header: open the console at the address it printed',
      });
      return;
    }
    if (options.token !== undefined) {
      const fromQuery = url.searchParams.get('token') ?? undefined;
      if (fromQuery !== undefined && tokenMatches(fromQuery, options.token)) {
        url.searchParams.delete('token');
        res.writeHead(303, {
          location: `${url.pathname}${url.search}`,
          'set-cookie': `${COOKIE}=${encodeURIComponent(options.token)}; HttpOnly; SameSite=Strict; Path=/`,
          'content-security-policy': CSP,
        });
        res.end();
        return;
      }
      if (!tokenMatches(bearer(req) ?? cookieToken(req), options.token)) {
        json(res, 401, {
          error:
            'access token required: open the URL with ?token= that the console printed at start, or send Authorization: Bearer <token>',
        });
        return;
      }
    }
    const path = url.pathname;
    const at = now();
    if (path === '/favicon.ico') {
      res.writeHead(204, { 'content-security-policy': CSP, 'cache-control': 'max-age=86400' });
      res.end();
      return;
    }
    if (path.startsWith('/assets/')) {
      const asset = ASSETS[path.slice('/assets/'.length)];
      if (!asset) throw new HttpError(404, 'no such asset');
      send(
        res,
        200,
        `${asset.type}; charset=utf-8`,
        readFileSync(new URL(asset.file, BUNDLE_DIR)),
        {
          'cache-control': 'max-age=300',
        },
      );
      return;
    }
    if (path === '/' || path === '/runs') {
      const raw = Object.fromEntries(url.searchParams);
      let result: Awaited<ReturnType<ConsoleData['searchRuns']>> | { error: string };
      try {
        result = await data.searchRuns(runQueryOf(url.searchParams, at));
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        result = { error: error.message };
      }
      send(res, 'error' in result ? 400 : 200, 'text/html; charset=utf-8', runsPage(raw, result));
      return;
    }
    const run = /^\/runs\/([^/]+)(\/report\.html|\/evidence\.json)?$/.exec(path);
    if (run) {
      const runId = decodeURIComponent(run[1]!);
      const { spans, integrity, explanation } = await data.loadRun(runId);
      if (spans.length === 0) {
        send(
          res,
          404,
          'text/html; charset=utf-8',
          notFoundPage(`no run with workflow.run_id=${runId} in the stores`),
        );
        return;
      }
      const file = runId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
      if (run[2] === '/report.html') {
        send(res, 200, 'text/html; charset=utf-8', renderHtmlReport(explanation, spans, at), {
          'content-disposition': `attachment; filename="agent-audit-run-${file}.html"`,
          // The report carries its own inline style; it still runs no script.
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
        });
      } else if (run[2] === '/evidence.json') {
        json(res, 200, evidenceBundle(runId, spans, explanation, integrity, data.integrity(), at), {
          'content-disposition': `attachment; filename="agent-audit-run-${file}.json"`,
        });
      } else {
        send(
          res,
          200,
          'text/html; charset=utf-8',
          runPage(runId, spans, explanation, integrity, jaeger),
        );
      }
      return;
    }
    const dash = /^\/dashboards\/(activity|security|compliance)$/.exec(path);
    if (dash) {
      const window = windowOf(url.searchParams, at);
      send(
        res,
        200,
        'text/html; charset=utf-8',
        dashboardPage(dash[1] as 'activity', data.integrity(), window as RunQuery),
      );
      return;
    }
    if (path.startsWith('/api/')) {
      await api(req, path, url.searchParams, at, res);
      return;
    }
    send(res, 404, 'text/html; charset=utf-8', notFoundPage(`nothing at ${path}`));
  }

  async function api(
    req: IncomingMessage,
    path: string,
    params: URLSearchParams,
    at: Date,
    res: ServerResponse,
  ): Promise<void> {
    if (path === '/api/status') {
      json(res, 200, {
        generated_at: at.toISOString(),
        index: data.indexStatus(),
        caught_up: data.caughtUp,
      });
      return;
    }
    if (path === '/api/runs') {
      json(res, 200, await data.searchRuns(runQueryOf(params, at)));
      return;
    }
    const run = /^\/api\/runs\/([^/]+)(\/timeline)?$/.exec(path);
    if (run) {
      const runId = decodeURIComponent(run[1]!);
      const { spans, integrity, explanation, timeline } = await data.loadRun(runId);
      if (spans.length === 0)
        throw new HttpError(404, `no run with workflow.run_id=${runId} in the stores`);
      if (run[2]) {
        // Built, serialised and compressed once per kept run, in the query worker (a 5,000-span
        // run is about 2.4 MB of JSON, 0.3 MB gzipped).
        let body = timeline ?? timelines.get(spans);
        if (body === undefined) {
          const text = Buffer.from(`${JSON.stringify(waterfallView(runId, spans))}\n`);
          body = { text, gzip: gzipSync(text, { level: 6 }) };
          timelines.set(spans, body);
        }
        const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
        send(
          res,
          200,
          'application/json; charset=utf-8',
          gzip ? body.gzip : body.text,
          gzip
            ? { 'content-encoding': 'gzip', vary: 'accept-encoding' }
            : { vary: 'accept-encoding' },
        );
        return;
      }
      json(res, 200, {
        run_id: runId,
        spans,
        explanation,
        integrity,
        jaeger: jaeger
          ? [...new Set(spans.map((s) => `${jaeger.replace(/\/+$/, '')}/trace/${s.trace_id}`))]
          : [],
      });
      return;
    }
    if (path === '/api/dashboards') {
      const window = windowOf(params, at);
      const figures = data.table.figures(window.since, window.until);
      json(res, 200, {
        generated_at: at.toISOString(),
        caught_up: data.caughtUp,
        window: { ...figures.window, label: window.label },
        figures,
        alerts: alertsIn(data.alerts(), window.since, window.until),
        stores: data.integrity(),
        retention: data.retention(at),
        pending_approvals: data.table.pendingApprovals(),
        index_warnings: data.warnings.map((w) => ({ code: w.code, message: w.message })),
      });
      return;
    }
    if (path === '/api/stores') {
      json(res, 200, { stores: data.integrity(), retention: data.retention(at) });
      return;
    }
    throw new HttpError(404, `no API at ${path} (see docs/console-api.md)`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof IndexNotReadyError) {
        // The query index is still being built: say so, and how far it got (never a hang).
        if (res.headersSent) return void res.end();
        if ((req.url ?? '').startsWith('/api/')) {
          json(
            res,
            503,
            { error: `the console is indexing its stores: ${error.message}`, index: error.status },
            { 'retry-after': '2' },
          );
        } else {
          send(res, 503, 'text/html; charset=utf-8', indexingPage(error.status), {
            'retry-after': '2',
          });
        }
        return;
      }
      const status = error instanceof HttpError ? error.status : 500;
      const message =
        error instanceof HttpError
          ? error.message
          : `the console could not answer: ${(error as Error).message}`;
      if (!res.headersSent) json(res, status, { error: message });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  boundPort = (server.address() as AddressInfo).port;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${shownHost}:${boundPort}`,
    server,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function alertsIn(
  alerts: ReturnType<ConsoleData['alerts']>,
  since: Date | undefined,
  until: Date | undefined,
): ReturnType<ConsoleData['alerts']> & {
  by_severity: Array<{ severity: string; count: number }>;
  by_pattern: Array<{ pattern: string; count: number }>;
} {
  const inWindow = alerts.alerts.filter((a) => {
    const t = Date.parse(a.detected_at ?? a.time);
    return (!since || t >= since.getTime()) && (!until || t < until.getTime());
  });
  const count = (key: (a: (typeof inWindow)[number]) => string) => {
    const m = new Map<string, number>();
    for (const a of inWindow) m.set(key(a), (m.get(key(a)) ?? 0) + 1);
    return [...m].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]));
  };
  return {
    ...alerts,
    alerts: inWindow.slice(-200).reverse(),
    by_severity: count((a) => a.severity ?? 'unknown').map(([severity, n]) => ({
      severity,
      count: n,
    })),
    by_pattern: count((a) => a.pattern ?? 'unknown').map(([pattern, n]) => ({ pattern, count: n })),
  };
}
