/**
 * The helpdesk's knowledge-base HTTP API, on loopback, reached only through the phantom-token
 * gateway (`agent-audit gateway`, a child process of the demo). The agent holds a run token
 * (`aat1.…`); the gateway verifies it, swaps in the API key that only it and this server know,
 * and passes the token's public reference, which this server writes to its access log — the
 * line an operator would hand to `agent-audit whois`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface HelpdeskApi {
  /** `http://127.0.0.1:<port>` of the gateway: the agent's base URL for the API. */
  readonly gatewayUrl: string;
  /** The API server's access log: one line per request, with the credential reference. */
  readonly accessLog: string;
  readonly gatewayStoreDir: string;
  stop(): Promise<void>;
}

export interface HelpdeskApiOptions {
  /** Directory for the gateway's configuration and the access log. */
  workDir: string;
  cliPath: string;
  /** The token issuer's public key (SPKI PEM): the gateway trusts tokens it signed. */
  issuerPublicKeyPem: string;
  gatewayStoreDir: string;
  gatewayTrustDir: string;
  search(query: string): { articles: { id: string; title: string }[] };
}

/** The audience of the demo's run tokens and the scope its knowledge-base route needs. */
export const GATEWAY_AUDIENCE = 'quickstart-gateway';
export const KB_READ_SCOPE = 'helpdesk:kb:read';

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('no port');
  return address.port;
}

export async function startHelpdeskApi(options: HelpdeskApiOptions): Promise<HelpdeskApi> {
  mkdirSync(options.workDir, { recursive: true });
  // The real credential: known to the API and the gateway, never to the agent.
  const apiKey = `hk_${randomBytes(24).toString('hex')}`;
  const accessLog = join(options.workDir, 'helpdesk-api-access.log');
  writeFileSync(accessLog, '');
  const upstream = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://helpdesk.local');
    const ref = String(req.headers['x-agent-audit-credential-ref'] ?? '-');
    const authorized = req.headers['x-helpdesk-api-key'] === apiKey;
    const status = !authorized ? 401 : url.pathname === '/kb/search' ? 200 : 404;
    // Common-log-like: what a provider's access log holds. The reference, never a secret.
    appendFileSync(
      accessLog,
      `${new Date().toISOString()} ${req.method} ${url.pathname} ${status} credential_ref=${ref}\n`,
    );
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(status === 200 ? options.search(url.searchParams.get('q') ?? '') : {}));
  });
  const upstreamPort = await listen(upstream);

  const trustFile = join(options.workDir, 'token-issuer.pub.pem');
  writeFileSync(trustFile, options.issuerPublicKeyPem);
  const configFile = join(options.workDir, 'gateway.yaml');
  writeFileSync(
    configFile,
    [
      'listen: 127.0.0.1:0',
      `audience: ${GATEWAY_AUDIENCE}`,
      `store: ${JSON.stringify(options.gatewayStoreDir)}`,
      `trustDir: ${JSON.stringify(options.gatewayTrustDir)}`,
      'trust:',
      '  publicKeys: [token-issuer.pub.pem]',
      'upstreams:',
      '  - name: helpdesk',
      `    url: http://127.0.0.1:${upstreamPort}`,
      '    credential:',
      '      env: HELPDESK_API_KEY',
      '      header: x-helpdesk-api-key',
      '      format: "{secret}"',
      '    routes:',
      `      - { scope: "${KB_READ_SCOPE}", methods: [GET], path: "/kb/search" }`,
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [options.cliPath, 'gateway', '--config', configFile], {
    env: { ...process.env, HELPDESK_API_KEY: apiKey },
    // The gateway's one line per call goes to a log file, not into the demo's output.
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const gatewayLog = join(options.workDir, 'gateway.log');
  writeFileSync(gatewayLog, '');
  child.stderr.on('data', (chunk: Buffer) => appendFileSync(gatewayLog, chunk));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    upstream.close();
  };
  for await (const line of createInterface({ input: child.stdout })) {
    const match = /^gateway listening on (\S+)/.exec(line);
    if (match) {
      return { gatewayUrl: match[1]!, accessLog, gatewayStoreDir: options.gatewayStoreDir, stop };
    }
  }
  upstream.close();
  throw new Error(`the gateway exited before it was ready (see ${gatewayLog})`);
}
