/**
 * Gateway figures for `pnpm bench` (issue 13, "the phantom-token gateway"): the latency of an
 * API call made through the gateway (`agent-audit gateway`, a child process of the built CLI:
 * token verification, scope route, credential swap, the call audited in its own WORM store)
 * over the same call made directly to the same loopback upstream with the real credential.
 *
 * - gateway_overhead_ratio_p50 / _p99: through / direct, for an upstream that answers after
 *   UPSTREAM_DELAY_MS (a fast API; real ones take longer, which only lowers the ratio). Goal
 *   ≤ 1.2 at both.
 * - gateway_overhead_ratio_p50_instant / _p99_instant: the same for an upstream that answers
 *   at once: the gateway's whole cost against a bare loopback round trip (worst case).
 * - gateway_added_ms_p50 / _p99: what the gateway adds, in milliseconds (instant upstream).
 *
 * Rounds alternate the arms (direct, gateway, direct, …); each figure is the median of the
 * per-round ratios. Requests are sequential on keep-alive connections.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTokenIssuer, generateTokenKeyPair } from '@agent-audit/credentials';
import { median } from './bench-support.js';
import { quantile } from './workload.js';

type Figures = Record<string, number>;

const CLI_BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
const UPSTREAM_DELAY_MS = 20;
const ROUNDS = 7;
const REQUESTS_INSTANT = 300;
const REQUESTS_DELAYED = 60;
const WARMUP = 100;
const REAL_SECRET = 'bench-upstream-secret';

function startUpstream(delayMs: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const reply = () => {
        res.writeHead(req.headers.authorization === `Bearer ${REAL_SECRET}` ? 200 : 401, {
          'content-type': 'application/json',
        });
        res.end('{"ok":true,"items":[1,2,3]}');
      };
      if (delayMs > 0) setTimeout(reply, delayMs);
      else reply();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function get(agent: http.Agent, url: URL, headers: Record<string, string>): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { hostname: url.hostname, port: url.port, path: url.pathname, headers, agent },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200)
            reject(new Error(`bench: HTTP ${res.statusCode} from ${url}`));
          else resolve(performance.now() - started);
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function startGateway(configFile: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI_BIN, 'gateway', '--config', configFile], {
    env: { ...process.env, BENCH_UPSTREAM_TOKEN: REAL_SECRET, AGENT_AUDIT_FORWARD: 'false' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (c) => {
      out += c;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`bench: gateway exited with ${code}`)));
  });
  return { child, url };
}

/** Median over rounds of (gateway quantile / direct quantile), arms alternating. */
async function measure(
  direct: () => Promise<number>,
  gateway: () => Promise<number>,
  requests: number,
): Promise<{ p50: number; p99: number; addedP50: number; addedP99: number }> {
  for (let i = 0; i < WARMUP; i++) {
    await direct();
    await gateway();
  }
  const p50: number[] = [];
  const p99: number[] = [];
  const addedP50: number[] = [];
  const addedP99: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const d: number[] = [];
    const g: number[] = [];
    // Alternate which arm goes first, and interleave within the round.
    for (let i = 0; i < requests; i++) {
      if ((i + round) % 2 === 0) {
        d.push(await direct());
        g.push(await gateway());
      } else {
        g.push(await gateway());
        d.push(await direct());
      }
    }
    p50.push(quantile(g, 0.5) / quantile(d, 0.5));
    p99.push(quantile(g, 0.99) / quantile(d, 0.99));
    addedP50.push(quantile(g, 0.5) - quantile(d, 0.5));
    addedP99.push(quantile(g, 0.99) - quantile(d, 0.99));
  }
  return {
    p50: median(p50),
    p99: median(p99),
    addedP50: median(addedP50),
    addedP99: median(addedP99),
  };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export async function runGatewayBench(): Promise<Figures> {
  const root = mkdtempSync(join(tmpdir(), 'aa-gateway-bench-'));
  const servers: http.Server[] = [];
  let gateway: ChildProcess | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  try {
    const instant = await startUpstream(0);
    const delayed = await startUpstream(UPSTREAM_DELAY_MS);
    servers.push(instant, delayed);
    const portOf = (s: http.Server) => (s.address() as AddressInfo).port;
    const keys = generateTokenKeyPair();
    writeFileSync(join(root, 'issuer.pub.pem'), keys.publicKeyPem);
    const upstream = (name: string, port: number) => [
      `  - name: ${name}`,
      `    url: http://127.0.0.1:${port}`,
      '    credential: { env: BENCH_UPSTREAM_TOKEN }',
      '    routes:',
      '      - { scope: "api:read", methods: [GET], path: "/items/**" }',
    ];
    const configFile = join(root, 'gateway.yaml');
    writeFileSync(
      configFile,
      [
        'listen: 127.0.0.1:0',
        'audience: bench-gateway',
        'store: store',
        'trustDir: trust',
        'trust:',
        '  publicKeys: [issuer.pub.pem]',
        'upstreams:',
        ...upstream('instant', portOf(instant)),
        ...upstream('delayed', portOf(delayed)),
        '',
      ].join('\n'),
    );
    const started = await startGateway(configFile);
    gateway = started.child;
    const token = createTokenIssuer({ privateKey: keys.privateKeyPem }).issue({
      runId: 'bench-run',
      agentId: 'bench-agent',
      principal: 'system:bench',
      scopes: ['api:read'],
      audience: 'bench-gateway',
      ttlSeconds: 3600,
    });
    const viaGateway = { authorization: `Bearer ${token.token}` };
    const direct = { authorization: `Bearer ${REAL_SECRET}` };
    const arms = (name: string, server: http.Server) => ({
      direct: () => get(agent, new URL(`http://127.0.0.1:${portOf(server)}/items/1`), direct),
      gateway: () => get(agent, new URL(`${started.url}/${name}/items/1`), viaGateway),
    });
    const a = arms('instant', instant);
    const instantFigures = await measure(a.direct, a.gateway, REQUESTS_INSTANT);
    const b = arms('delayed', delayed);
    const delayedFigures = await measure(b.direct, b.gateway, REQUESTS_DELAYED);
    return {
      gateway_overhead_ratio_p50: round3(delayedFigures.p50),
      gateway_overhead_ratio_p99: round3(delayedFigures.p99),
      gateway_upstream_delay_ms: UPSTREAM_DELAY_MS,
      gateway_overhead_ratio_p50_instant: round3(instantFigures.p50),
      gateway_overhead_ratio_p99_instant: round3(instantFigures.p99),
      gateway_added_ms_p50: round3(instantFigures.addedP50),
      gateway_added_ms_p99: round3(instantFigures.addedP99),
    };
  } finally {
    agent.destroy();
    if (gateway && gateway.exitCode === null) {
      const exited = new Promise((r) => gateway?.once('exit', r));
      gateway.kill('SIGTERM');
      await exited;
    }
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    rmSync(root, { recursive: true, force: true });
  }
}
