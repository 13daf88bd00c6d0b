/*
 * The phantom-token gateway end to end, with real parts: a real upstream HTTP server on
 * loopback (with its own access log), the gateway as a real child process (the built CLI),
 * and an agent in this process with its own audit store (registerAgentAudit). Attacks: a
 * forged token (claims rewritten), a token from an untrusted key, an expired token, a token
 * replayed after it expired, out-of-scope and unrouted requests, no token.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createTokenIssuer,
  generateTokenKeyPair,
  type IssuedRunToken,
  recordTokenIssued,
} from '@agent-audit/credentials';
import { injectRunContext, runWorkflow } from '@agent-audit/instrumentation';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/test/support/run-cli.js';

const CLI_BIN = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));
const REAL_SECRET = 'upstream-real-secret-7f3a9c1e5b2d4f60';
const RUN_ID = 'run-gw-0001';

interface Upstream {
  url: string;
  port: number;
  /** Every request the upstream received (headers included), in order. */
  seen: http.IncomingHttpHeaders[];
  seenPaths: string[];
  accessLog: string;
  close(): Promise<void>;
}

/** An API that logs like a real one: method, path, every header except the credential. */
async function startUpstream(dir: string): Promise<Upstream> {
  const accessLog = path.join(dir, 'upstream-access.log');
  const seen: http.IncomingHttpHeaders[] = [];
  const seenPaths: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    seenPaths.push(`${req.method} ${req.url}`);
    const logged = Object.entries(req.headers)
      .filter(([k]) => k !== 'authorization')
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    fs.appendFileSync(accessLog, `${req.method} ${req.url} ${logged}\n`);
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const ok = req.headers.authorization === `Bearer ${REAL_SECRET}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok, path: req.url, body }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    seenPaths,
    accessLog,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; path?: string; body?: string },
): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        hostname: u.hostname,
        port: u.port,
        method: options.method ?? 'GET',
        path: options.path ?? `${u.pathname}${u.search}`,
        headers: options.headers,
        agent: false,
      },
      (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name));
}

let gatewayOut = '';
let gatewayErr = '';
let root: string;

/** The gateway as `agent-audit gateway --config …`, a child process of the built CLI. */
async function startGatewayChild(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [CLI_BIN, 'gateway', '--config', path.join(root, 'gateway.yaml')],
    {
      env: { ...process.env, UPSTREAM_API_TOKEN: REAL_SECRET, AGENT_AUDIT_FORWARD: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stderr?.on('data', (c) => {
    gatewayErr += c;
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (c) => {
      out += c;
      gatewayOut += c;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${gatewayErr}`)));
  });
  return { child, url };
}

async function stopGatewayChild(child: ChildProcess): Promise<number | null> {
  child.kill('SIGTERM');
  return new Promise((r) => child.once('exit', (c) => r(c)));
}

describe('phantom-token gateway', () => {
  let upstream: Upstream;
  let gateway: ChildProcess;
  let gatewayUrl: string;
  let audit: AgentAuditHandle;
  const tokens: string[] = [];
  let runToken: IssuedRunToken;
  let forgedToken = '';
  const replies: Record<string, Reply> = {};

  beforeAll(async () => {
    if (!fs.existsSync(CLI_BIN)) throw new Error(`${CLI_BIN} is missing: run "pnpm build" first`);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'aa-gateway-'));
    upstream = await startUpstream(root);
    const keys = generateTokenKeyPair();
    fs.writeFileSync(path.join(root, 'issuer.pub.pem'), keys.publicKeyPem);
    fs.writeFileSync(
      path.join(root, 'gateway.yaml'),
      [
        'listen: 127.0.0.1:0',
        'audience: test-gateway',
        'store: gateway-store',
        'trustDir: gateway-trust',
        'trust:',
        '  publicKeys: [issuer.pub.pem]',
        'upstreams:',
        '  - name: api',
        `    url: ${upstream.url}/v1`,
        '    credential:',
        '      env: UPSTREAM_API_TOKEN',
        '    routes:',
        '      - { scope: "api:read", methods: [GET], path: "/repos/**" }',
        '      - { scope: "api:write", methods: [POST], path: "/repos/*/issues" }',
        '',
      ].join('\n'),
    );
    ({ child: gateway, url: gatewayUrl } = await startGatewayChild());

    audit = registerAgentAudit({
      storeDir: path.join(root, 'agent-store'),
      trustDir: path.join(root, 'agent-trust'),
      forward: false,
      installExitHandlers: false,
      serviceName: 'agent',
    });
    const issuer = createTokenIssuer({ privateKey: keys.privateKeyPem });
    const issue = (over: Partial<Parameters<typeof issuer.issue>[0]> = {}) => {
      const t = issuer.issue({
        runId: RUN_ID,
        agentId: 'support-agent',
        principal: 'user:456',
        tenantId: 'acme',
        scopes: ['api:read'],
        audience: 'test-gateway',
        ttlSeconds: 300,
        ...over,
      });
      tokens.push(t.token);
      return t;
    };
    runToken = issue();
    const expired = issue({ now: new Date(Date.now() - 3_600_000), ttlSeconds: 60 });
    const shortLived = issue({ ttlSeconds: 2 });
    const wrongAudience = issue({ audience: 'other-service' });
    const writer = issue({ scopes: ['api:read', 'api:write'] });
    const stranger = createTokenIssuer({ privateKey: generateTokenKeyPair().privateKeyPem });
    const untrusted = stranger.issue({
      runId: RUN_ID,
      agentId: 'support-agent',
      principal: 'user:456',
      scopes: ['api:read', 'api:write'],
      audience: 'test-gateway',
    });
    tokens.push(untrusted.token);
    // Forged: the run token's claims rewritten (more scope, another principal), signature kept.
    const [prefix, claims, sig] = runToken.token.split('.');
    const forgedClaims = {
      ...JSON.parse(Buffer.from(claims!, 'base64url').toString('utf8')),
      principal: 'user:admin',
      scopes: ['api:read', 'api:write'],
    };
    const forged = `${prefix}.${Buffer.from(JSON.stringify(forgedClaims)).toString('base64url')}.${sig}`;
    tokens.push(forged);
    forgedToken = forged;

    await runWorkflow(
      {
        agentId: 'support-agent',
        runId: RUN_ID,
        triggerPrincipal: 'user:456',
        tenantId: 'acme',
        credentialRef: runToken.ref,
      },
      async () => {
        recordTokenIssued(runToken);
        const auth = (t: string) => injectRunContext({ authorization: `Bearer ${t}` });
        const base = `${gatewayUrl}/api`;
        replies.allowed = await request(`${base}/repos/acme/widgets?page=2`, {
          headers: auth(runToken.token),
        });
        replies.forwardProxy = await request(gatewayUrl, {
          path: `${upstream.url}/repos/acme/widgets`,
          headers: injectRunContext({ 'proxy-authorization': `Bearer ${runToken.token}` }),
        });
        replies.outOfScope = await request(`${base}/repos/acme/issues`, {
          method: 'POST',
          headers: auth(runToken.token),
          body: '{"title":"x"}',
        });
        replies.noRoute = await request(`${base}/admin/users`, {
          method: 'DELETE',
          headers: auth(runToken.token),
        });
        replies.expired = await request(`${base}/repos/acme/widgets`, {
          headers: auth(expired.token),
        });
        replies.forged = await request(`${base}/repos/acme/issues`, {
          method: 'POST',
          headers: auth(forged),
          body: '{}',
        });
        replies.untrusted = await request(`${base}/repos/acme/widgets`, {
          headers: auth(untrusted.token),
        });
        replies.wrongAudience = await request(`${base}/repos/acme/widgets`, {
          headers: auth(wrongAudience.token),
        });
        replies.missing = await request(`${base}/repos/acme/widgets`, {});
        replies.allowedPost = await request(`${base}/repos/acme/issues`, {
          method: 'POST',
          headers: { ...auth(writer.token), 'content-type': 'application/json' },
          body: '{"title":"from the agent"}',
        });
        replies.beforeExpiry = await request(`${base}/repos/acme/widgets`, {
          headers: auth(shortLived.token),
        });
        // Replay the same token once it has expired (a wait, not a timing assertion).
        const until = shortLived.claims.exp * 1000 + 50;
        await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())));
        replies.replayed = await request(`${base}/repos/acme/widgets`, {
          headers: auth(shortLived.token),
        });
      },
    );
    await audit.shutdown();
    expect(await stopGatewayChild(gateway), gatewayErr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    if (gateway && gateway.exitCode === null) gateway.kill('SIGKILL');
    await upstream?.close();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('forwards an in-scope call with the real credential, and refuses the rest before the upstream (row 48)', () => {
    expect(replies.allowed).toMatchObject({
      status: 200,
      body: { ok: true, path: '/v1/repos/acme/widgets?page=2' },
    });
    expect(replies.forwardProxy).toMatchObject({
      status: 200,
      body: { ok: true, path: '/v1/repos/acme/widgets' },
    });
    expect(replies.beforeExpiry?.status).toBe(200);
    // A request body is forwarded as sent.
    expect(replies.allowedPost).toMatchObject({
      status: 200,
      body: { ok: true, path: '/v1/repos/acme/issues', body: '{"title":"from the agent"}' },
    });
    const refused = {
      outOfScope: [403, 'scope_not_granted'],
      noRoute: [403, 'no_route'],
      expired: [401, 'expired'],
      forged: [401, 'bad_signature'],
      untrusted: [401, 'unknown_key'],
      wrongAudience: [403, 'wrong_audience'],
      missing: [401, 'missing_token'],
      replayed: [401, 'expired'],
    };
    for (const [name, [status, reason]] of Object.entries(refused)) {
      expect(replies[name], name).toMatchObject({ status, body: { error: reason } });
    }
    // Only the four allowed calls reached the upstream.
    expect(upstream.seenPaths).toEqual([
      'GET /v1/repos/acme/widgets?page=2',
      'GET /v1/repos/acme/widgets',
      'POST /v1/repos/acme/issues',
      'GET /v1/repos/acme/widgets',
    ]);
    for (const headers of upstream.seen) {
      expect(headers.authorization).toBe(`Bearer ${REAL_SECRET}`);
      expect(headers['x-agent-audit-credential-ref']).toMatch(/^aat_[a-z2-7]{26}$/);
      expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      expect(headers['proxy-authorization']).toBeUndefined();
    }
  });

  it('never writes a token or the real credential to a store, a log or the upstream log (row 49)', () => {
    const files = [
      ...filesUnder(path.join(root, 'agent-store')),
      ...filesUnder(path.join(root, 'gateway-store')),
      upstream.accessLog,
    ];
    expect(files.length).toBeGreaterThan(3);
    const texts = [...files.map((f) => fs.readFileSync(f, 'latin1')), gatewayOut, gatewayErr];
    for (const text of texts) {
      for (const token of tokens) {
        expect(text.includes(token)).toBe(false);
        expect(text.includes(token.split('.')[2]!)).toBe(false); // the signature alone
      }
      if (text !== fs.readFileSync(upstream.accessLog, 'latin1')) {
        expect(text.includes(REAL_SECRET)).toBe(false);
      }
    }
    const access = fs.readFileSync(upstream.accessLog, 'utf8');
    expect(access).toContain(`x-agent-audit-credential-ref=${runToken.ref}`);
    expect(access).not.toContain(REAL_SECRET);
  });

  it("records every call, allowed or refused, in the gateway's store in the run's trace; the store verifies", async () => {
    const gatewayStore = path.join(root, 'gateway-store');
    const verify = await runCli(['--store', gatewayStore, 'verify', '--json'], {
      env: { AGENT_AUDIT_TRUST_DIR: path.join(root, 'gateway-trust') },
    });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const trail = await runCli(['--store', gatewayStore, 'trail', RUN_ID, '--json']);
    expect(trail.code, trail.stderr).toBe(0);
    const spans = JSON.parse(trail.stdout).spans as Array<Record<string, unknown>>;
    const calls = spans.filter((s) => s.operation === 'execute_tool');
    // Allowed ×4, out of scope, no route, expired, wrong audience, replayed: authentic tokens.
    expect(
      calls.map((c) => `${c.decision}:${String(c.decision_reason).split(':')[0]}`).sort(),
    ).toEqual(
      [
        'allow:scope api',
        'allow:scope api',
        'allow:scope api',
        'allow:scope api',
        'stop:expired',
        'stop:expired',
        'stop:no_route',
        'stop:scope_not_granted',
        'stop:wrong_audience',
      ].sort(),
    );
    for (const c of calls) {
      expect(c).toMatchObject({
        run_id: RUN_ID,
        principal: 'user:456',
        agent_id: 'support-agent',
        tool: 'http:api',
      });
      expect(c.decision_policy).toBe('agent-audit-gateway');
      expect((c.attributes as Record<string, unknown>)['run_context.status']).toBe('verified');
    }
    // The refused-but-authentic calls carry their token's reference.
    const refs = new Set(calls.map((c) => c.credential_ref));
    expect(refs.has(runToken.ref)).toBe(true);
    // In the agent's trace: the allowed call's parent span is the agent's run span.
    const agentTrail = JSON.parse(
      (await runCli(['--store', path.join(root, 'agent-store'), 'trail', RUN_ID, '--json'])).stdout,
    ).spans as Array<Record<string, unknown>>;
    const runSpan = agentTrail.find((s) => s.depth === 0)!;
    expect(calls.every((c) => c.trace_id === runSpan.trace_id)).toBe(true);
  });

  it('attributes nothing to the run from a forged or untrusted token', async () => {
    const runs = await runCli([
      '--store',
      path.join(root, 'gateway-store'),
      'runs',
      '--principal',
      'user:admin',
      '--json',
    ]);
    expect(JSON.parse(runs.stdout)).toEqual([]);
  });

  it('whois maps the reference in the upstream access log back to the run', async () => {
    const ref = /x-agent-audit-credential-ref=(aat_[a-z2-7]{26})/.exec(
      fs.readFileSync(upstream.accessLog, 'utf8'),
    )![1]!;
    const stores = [
      '--store',
      path.join(root, 'agent-store'),
      '--store',
      path.join(root, 'gateway-store'),
    ];
    const who = await runCli([...stores, 'whois', ref, '--json']);
    expect(who.code, who.stderr).toBe(0);
    const uses = JSON.parse(who.stdout);
    expect(uses).toHaveLength(1);
    expect(uses[0]).toMatchObject({
      credential_ref: ref,
      run_id: RUN_ID,
      agent_id: 'support-agent',
      principal: 'user:456',
      tenant_id: 'acme',
      issued: { scopes: ['api:read'], audience: 'test-gateway' },
    });
    const decisions = uses[0].tool_calls.map((c: { decision: string }) => c.decision).sort();
    expect(decisions).toEqual(['allow', 'allow', 'stop', 'stop']);
    const human = await runCli([...stores, 'whois', ref]);
    expect(human.stdout).toContain(`principal  user:456`);
    const runs = await runCli([...stores, 'runs', '--credential', ref, '--json']);
    expect(JSON.parse(runs.stdout).map((r: { run_id: string }) => r.run_id)).toEqual([RUN_ID]);
    const none = await runCli([...stores, 'whois', 'aat_aaaaaaaaaaaaaaaaaaaaaaaaaa']);
    expect(none.code).toBe(4);
  });

  it('after a gateway restart on the same store: new calls are recorded and the store still verifies (row 48)', async () => {
    const gatewayStore = path.join(root, 'gateway-store');
    const env = { AGENT_AUDIT_TRUST_DIR: path.join(root, 'gateway-trust') };
    const restarted = await startGatewayChild();
    gateway = restarted.child;
    const allowed = await request(`${restarted.url}/api/repos/acme/widgets`, {
      headers: { authorization: `Bearer ${runToken.token}` },
    });
    const forged = await request(`${restarted.url}/api/repos/acme/widgets`, {
      headers: { authorization: `Bearer ${forgedToken}` },
    });
    expect(await stopGatewayChild(restarted.child), gatewayErr).toBe(0);
    expect(allowed.status).toBe(200);
    expect(forged).toMatchObject({ status: 401, body: { error: 'bad_signature' } });
    const verify = await runCli(['--store', gatewayStore, 'verify', '--json'], { env });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const trail = JSON.parse(
      (await runCli(['--store', gatewayStore, 'trail', RUN_ID, '--json'])).stdout,
    );
    const calls = trail.spans.filter((s: { operation: string }) => s.operation === 'execute_tool');
    expect(calls).toHaveLength(10);
    for (const token of tokens) {
      for (const f of filesUnder(gatewayStore))
        expect(fs.readFileSync(f, 'latin1').includes(token)).toBe(false);
    }
  });
});
