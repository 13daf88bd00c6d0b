/*
 * The phantom-token gateway's HTTP handling. Each request: find the upstream (reverse-proxy
 * prefix `/<name>/…` or a forward-proxy absolute-form target), verify the run token, match a
 * route and its scope, then one audited tool call (`traceToolCall`) in the token's run: the
 * gateway's decision is the call's policy decision, recorded before anything is forwarded; a
 * refused call never reaches the upstream. The upstream receives the real credential, the
 * token's public reference and the run's trace context, never the token.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  createTokenVerifier,
  type RunTokenClaims,
  TOKEN_PREFIX,
  type TokenVerifier,
} from '@agent-audit/credentials';
import {
  injectRunContext,
  type PolicyDecision,
  ToolCallRefusedError,
  traceToolCall,
  withVerifiedRun,
} from '@agent-audit/instrumentation';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { GatewayConfig, GatewayRoute, GatewayUpstream } from './gateway-config.js';

/** `decision.policy` of every call the gateway decides. */
export const GATEWAY_POLICY_ID = 'agent-audit-gateway';

export interface GatewayServerOptions {
  /** One line per call (never the token, the credential or the query string). */
  log?: (line: string) => void;
}

export interface RunningGateway {
  /** `http://host:port`. */
  readonly url: string;
  readonly server: http.Server;
  close(): Promise<void>;
}

/** Why a call was refused; a verification reason or one of the gateway's own. */
type Refusal = { reason: string; status: number; message: string };

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
// Replaced by the gateway: the agent's own values are never passed on.
const REPLACED = new Set(['host', 'authorization', 'traceparent', 'tracestate', 'baggage']);
const UNAUTHENTICATED = new Set([
  'missing_token',
  'malformed',
  'unknown_key',
  'bad_signature',
  'revoked',
  'not_yet_valid',
  'expired',
]);

interface Target {
  upstream: GatewayUpstream | undefined;
  /** Upstream-relative path (no query). */
  path: string;
  /** `?…` or empty. */
  search: string;
}

/** Reverse-proxy `/<name>/rest` or forward-proxy `http://host/rest`. */
function targetOf(req: http.IncomingMessage, config: GatewayConfig): Target {
  const raw = req.url ?? '/';
  if (/^https?:\/\//i.test(raw)) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return { upstream: undefined, path: '/', search: '' };
    }
    const host = url.host.toLowerCase();
    const upstream = config.upstreams.find((u) => u.hosts.has(host));
    return { upstream, path: url.pathname, search: url.search };
  }
  const q = raw.indexOf('?');
  const pathname = q < 0 ? raw : raw.slice(0, q);
  const search = q < 0 ? '' : raw.slice(q);
  const slash = pathname.indexOf('/', 1);
  const name = slash < 0 ? pathname.slice(1) : pathname.slice(1, slash);
  const upstream = config.upstreams.find((u) => u.name === name);
  return { upstream, path: slash < 0 ? '/' : pathname.slice(slash), search };
}

/** The bearer token from Proxy-Authorization (forward proxy) or Authorization. */
function bearerOf(req: http.IncomingMessage): string | undefined {
  for (const name of ['proxy-authorization', 'authorization']) {
    const value = req.headers[name];
    if (typeof value === 'string') {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
      if (m) return m[1];
    }
  }
  return undefined;
}

function routeOf(
  upstream: GatewayUpstream,
  method: string,
  path: string,
): GatewayRoute | undefined {
  return upstream.routes.find((r) => r.methods.has(method) && r.pattern.test(path));
}

/** Request headers as the upstream gets them: no hop-by-hop, no token, the real credential. */
function upstreamHeaders(
  req: http.IncomingMessage,
  upstream: GatewayUpstream,
  config: GatewayConfig,
  ref: string,
): http.OutgoingHttpHeaders {
  const drop = new Set(HOP_BY_HOP);
  const connection = req.headers.connection;
  if (typeof connection === 'string') {
    for (const h of connection.split(',')) drop.add(h.trim().toLowerCase());
  }
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || drop.has(name) || REPLACED.has(name)) continue;
    if (name === upstream.credentialHeader || name === config.refHeader) continue;
    // A token copied into another header by the agent is never passed on.
    if ((Array.isArray(value) ? value.join(',') : value).includes(TOKEN_PREFIX)) continue;
    out[name] = value;
  }
  out.host = upstream.url.host;
  out[upstream.credentialHeader] = upstream.credentialValue;
  out[config.refHeader] = ref;
  injectRunContext(out as Record<string, string>);
  return out;
}

function refuseResponse(res: http.ServerResponse, refusal: Refusal, ref: string | undefined): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({
    error: refusal.reason,
    message: refusal.message,
    ...(ref === undefined ? {} : { credential_ref: ref }),
  });
  res.writeHead(refusal.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    // The request body was not read: the connection cannot be reused.
    connection: 'close',
  });
  res.end(body);
}

/** The gateway's request handler (exported for tests and embedding). */
export function createGatewayHandler(
  config: GatewayConfig,
  options: GatewayServerOptions = {},
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const verifier: TokenVerifier = createTokenVerifier({
    publicKeys: [...config.publicKeys],
    revoked: config.revoked,
    clockToleranceSeconds: config.clockToleranceSeconds,
  });
  const agents = {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true }),
  };
  const log = options.log ?? (() => {});

  return (req, res) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const target = targetOf(req, config);
    const token = bearerOf(req);
    let claims: RunTokenClaims | undefined;
    let claimedRef: string | undefined;
    let refusal: Refusal | undefined;
    let route: GatewayRoute | undefined;

    if (method === 'CONNECT') {
      refusal = {
        reason: 'connect_not_supported',
        status: 405,
        message:
          'CONNECT tunnels are not supported: a tunnel cannot have its credential swapped. Use http:// targets through the proxy or the /<upstream>/ base URL',
      };
    } else if (token === undefined) {
      refusal = {
        reason: 'missing_token',
        status: 401,
        message: 'no run token: send Authorization: Bearer aat1.… (or Proxy-Authorization)',
      };
    } else {
      const v = verifier.verify(token, { audience: config.audience });
      if (v.ok) {
        claims = v.claims;
      } else {
        claims = v.claims;
        claimedRef = v.claimedRef;
        refusal = { reason: v.reason, status: 401, message: v.message };
      }
    }
    if (refusal === undefined && claims !== undefined) {
      if (target.upstream === undefined) {
        refusal = {
          reason: 'no_upstream',
          status: 404,
          message: `no upstream for this request; configured: ${config.upstreams.map((u) => `/${u.name}/`).join(', ')}`,
        };
      } else {
        route = routeOf(target.upstream, method, target.path);
        if (route === undefined) {
          refusal = {
            reason: 'no_route',
            status: 403,
            message: `no route of upstream ${target.upstream.name} allows ${method} ${target.path}`,
          };
        } else if (!claims.scopes.includes(route.scope)) {
          refusal = {
            reason: 'scope_not_granted',
            status: 403,
            message: `${claims.ref} does not grant scope ${route.scope} (needed for ${method} ${route.path})`,
          };
        }
      }
    }
    if (refusal !== undefined && refusal.status === 401 && !UNAUTHENTICATED.has(refusal.reason)) {
      refusal.status = 403; // wrong_audience: authentic, but not for this gateway
    }

    const ref = claims?.ref;
    const upstreamName = target.upstream?.name ?? 'unknown';
    const decisionReason =
      refusal === undefined
        ? `scope ${route?.scope} granted by ${ref}`
        : claimedRef === undefined
          ? `${refusal.reason}: ${refusal.message}`
          : `${refusal.reason}: claimed credential.ref ${claimedRef} (signature not verified)`;
    const decision: PolicyDecision = {
      outcome: refusal === undefined ? 'allow' : 'stop',
      reason: decisionReason,
      policyId: GATEWAY_POLICY_ID,
      policyVersion: config.version,
    };

    const call = () =>
      traceToolCall(
        {
          toolName: `http:${upstreamName}`,
          toolType: 'extension',
          description: `${method} through the agent-audit gateway`,
          input: { method, upstream: upstreamName, path: target.path, query: target.search },
          ...(ref === undefined ? {} : { credentialRef: ref }),
          policy: () => decision,
        },
        (handle) =>
          new Promise<number>((resolve, reject) => {
            const upstream = target.upstream as GatewayUpstream;
            const base = upstream.url.pathname.replace(/\/$/, '');
            const client = upstream.url.protocol === 'https:' ? https : http;
            const out = client.request({
              protocol: upstream.url.protocol,
              hostname: upstream.url.hostname,
              port: upstream.url.port,
              method,
              path: `${base}${target.path}${target.search}`,
              headers: upstreamHeaders(req, upstream, config, ref as string),
              agent: upstream.url.protocol === 'https:' ? agents.https : agents.http,
            });
            out.on('response', (up) => {
              const status = up.statusCode ?? 502;
              handle.span.setAttribute('http.response.status_code', status);
              const headers: http.OutgoingHttpHeaders = {};
              for (const [k, v] of Object.entries(up.headers)) {
                if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
              }
              res.writeHead(status, headers);
              up.pipe(res);
              up.on('end', () => resolve(status));
              up.on('error', reject);
            });
            out.on('error', reject);
            req.pipe(out);
          }),
      );

    const logLine = (outcome: string) =>
      log(
        `gateway: ${outcome} ${method} ${upstreamName}${target.path} ref=${ref ?? (claimedRef ? `${claimedRef}(claimed)` : '-')}${refusal ? ` reason=${refusal.reason}` : ''}`,
      );

    const run = () =>
      call().then(
        (status) => logLine(`allow ${status}`),
        (error: unknown) => {
          if (error instanceof ToolCallRefusedError) {
            logLine('refuse');
            refuseResponse(
              res,
              error.code === 'audit_not_durable'
                ? {
                    reason: 'audit_not_durable',
                    status: 503,
                    message: 'the audit record could not be made durable; nothing was forwarded',
                  }
                : (refusal ?? { reason: error.code, status: 403, message: error.message }),
              ref,
            );
            return;
          }
          logLine('error');
          refuseResponse(
            res,
            {
              reason: 'upstream_error',
              status: 502,
              message: `upstream ${upstreamName} failed: ${(error as Error).message}`,
            },
            ref,
          );
        },
      );

    if (claims !== undefined) {
      withVerifiedRun(
        {
          runId: claims.run,
          agentId: claims.agent,
          triggerPrincipal: claims.principal,
          ...(claims.tenant === undefined ? {} : { tenantId: claims.tenant }),
          credentialRef: claims.ref,
        },
        req.headers as Record<string, string>,
        run,
      );
    } else {
      // No authentic claims: nothing the request says about its run is adopted.
      context.with(ROOT_CONTEXT, run);
    }
  };
}

/** Starts the gateway's HTTP server on the configured host and port. */
export async function startGatewayServer(
  config: GatewayConfig,
  options: GatewayServerOptions = {},
): Promise<RunningGateway> {
  const server = http.createServer(createGatewayHandler(config, options));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
