/*
 * The gateway's YAML configuration: where it listens, which audience and issuer keys it
 * trusts, where its own audit store is, and for each upstream API the real credential (from an
 * environment variable or a file, never from the YAML itself) and the routes each scope opens.
 * Every error names the file and the field, and says what to write instead.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';

/** One rule: a request matching `methods` and `path` needs `scope` in the run token. */
export interface GatewayRoute {
  readonly scope: string;
  readonly methods: ReadonlySet<string>;
  /** As written: `/repos/*` (one segment), `/repos/**` (the rest of the path). */
  readonly path: string;
  readonly pattern: RegExp;
}

export interface GatewayUpstream {
  /** The route prefix in reverse-proxy mode: `http://gateway/<name>/…`. */
  readonly name: string;
  /** Where requests go; its path is prefixed to the request's. */
  readonly url: URL;
  /** Extra hosts matched in forward-proxy mode (absolute-form targets); always `url.host`. */
  readonly hosts: ReadonlySet<string>;
  /** Header the real credential goes in (lowercase). */
  readonly credentialHeader: string;
  /** The header value with the secret in it. Never logged, never recorded. */
  readonly credentialValue: string;
  /** Where the secret came from (`env GITHUB_TOKEN`, `file …`), for messages. */
  readonly credentialSource: string;
  readonly routes: readonly GatewayRoute[];
}

export interface GatewayConfig {
  readonly file: string;
  readonly host: string;
  readonly port: number;
  readonly audience: string;
  readonly storeDir: string;
  readonly trustDir: string;
  readonly publicKeys: readonly KeyObject[];
  readonly revoked: ReadonlySet<string>;
  readonly clockToleranceSeconds: number;
  /** Header that carries the token reference to the upstream (its access log). */
  readonly refHeader: string;
  readonly upstreams: readonly GatewayUpstream[];
  /** `sha256:<hex>` of the file: `decision.policy_version` of every call. */
  readonly version: string;
}

export class GatewayConfigError extends Error {
  override readonly name = 'GatewayConfigError';
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const SCOPE = /^[A-Za-z0-9][A-Za-z0-9._:/*-]{0,127}$/;
const HEADER = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** `/a/*\/b/**` → a RegExp over the path (no query): `*` one segment, `**` the rest. */
export function pathPattern(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') {
      re += '[^/]+';
    } else {
      re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`${re}$`);
}

/** Reads and checks the configuration. `env` supplies the upstream credentials named by `env:`. */
export function loadGatewayConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): GatewayConfig {
  const abs = path.resolve(file);
  const fail = (where: string, fix: string): never => {
    throw new GatewayConfigError(`${abs}: ${where} ${fix}`);
  };
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (error) {
    return fail('cannot be read:', `${(error as Error).message} (pass --config <file>)`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    return fail('is not valid YAML:', (error as Error).message.split('\n')[0] ?? '');
  }
  const dir = path.dirname(abs);
  const rel = (p: string) => path.resolve(dir, p);
  const obj = (v: unknown, where: string): Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : fail(where, `must be a mapping (actual: ${describe(v)})`);
  const str = (v: unknown, where: string, re?: RegExp, expected = 'a non-empty string'): string =>
    typeof v === 'string' && v !== '' && (re === undefined || re.test(v))
      ? v
      : fail(where, `must be ${expected} (actual: ${describe(v)})`);
  const known = (o: Record<string, unknown>, where: string, keys: string[]) => {
    for (const k of Object.keys(o)) {
      if (!keys.includes(k))
        fail(`${where}.${k}`, `is not a known field; expected one of ${keys.join(', ')}`);
    }
  };

  const root = obj(doc, 'the document');
  known(root, 'the document', [
    'listen',
    'audience',
    'store',
    'trustDir',
    'trust',
    'refHeader',
    'upstreams',
  ]);
  const listen = str(
    root.listen ?? '127.0.0.1:8787',
    'listen',
    /^[^\s:]+:\d{1,5}$/,
    'host:port, e.g. 127.0.0.1:8787 (port 0: any free port)',
  );
  const colon = listen.lastIndexOf(':');
  const port = Number(listen.slice(colon + 1));
  if (port > 65535) fail('listen', `port must be 0-65535 (actual: ${port})`);
  const audience = str(
    root.audience,
    'audience',
    /^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,255}$/,
    "the audience run tokens are issued for, e.g. 'gateway'",
  );
  const storeDir = rel(str(root.store ?? '.agent-audit-gateway', 'store'));
  const trustDir = rel(str(root.trustDir ?? '.agent-audit-gateway-trust', 'trustDir'));
  const refHeader = str(
    root.refHeader ?? 'x-agent-audit-credential-ref',
    'refHeader',
    HEADER,
  ).toLowerCase();

  const trust = obj(root.trust, 'trust');
  known(trust, 'trust', ['publicKeys', 'revoked', 'clockToleranceSeconds']);
  if (!Array.isArray(trust.publicKeys) || trust.publicKeys.length === 0) {
    fail(
      'trust.publicKeys',
      'must list at least one PEM file with a token issuer public key (agent-audit keygen --out DIR writes an Ed25519 pair; use a pair of its own for tokens, not the checkpoint key)',
    );
  }
  const publicKeys = (trust.publicKeys as unknown[]).map((p, i) => {
    const where = `trust.publicKeys[${i}]`;
    const keyFile = rel(str(p, where));
    let pem: string;
    try {
      pem = fs.readFileSync(keyFile, 'utf8');
    } catch (error) {
      return fail(where, `cannot be read: ${(error as Error).message}`);
    }
    try {
      const key = createPublicKey(pem);
      if (key.asymmetricKeyType !== 'ed25519') throw new Error('not Ed25519');
      return key;
    } catch {
      return fail(where, `(${keyFile}) must be an Ed25519 public key in SPKI PEM`);
    }
  });
  const revoked = new Set<string>();
  if (trust.revoked !== undefined) {
    const revokedFile = rel(str(trust.revoked, 'trust.revoked'));
    let lines: string[] = [];
    try {
      lines = fs.readFileSync(revokedFile, 'utf8').split('\n');
    } catch (error) {
      fail(
        'trust.revoked',
        `cannot be read: ${(error as Error).message} (one aat_ reference per line)`,
      );
    }
    for (const line of lines.map((l) => l.trim())) {
      if (line === '' || line.startsWith('#')) continue;
      if (!/^aat_[a-z2-7]{26}$/.test(line))
        fail('trust.revoked', `holds "${line.slice(0, 40)}", expected one aat_ reference per line`);
      revoked.add(line);
    }
  }
  const tolerance = trust.clockToleranceSeconds ?? 0;
  if (
    !Number.isSafeInteger(tolerance) ||
    (tolerance as number) < 0 ||
    (tolerance as number) > 300
  ) {
    fail(
      'trust.clockToleranceSeconds',
      `must be an integer from 0 to 300 (actual: ${describe(tolerance)})`,
    );
  }

  if (!Array.isArray(root.upstreams) || root.upstreams.length === 0) {
    fail('upstreams', 'must list at least one upstream (name, url, credential, routes)');
  }
  const names = new Set<string>();
  const upstreams = (root.upstreams as unknown[]).map((u, i): GatewayUpstream => {
    const where = `upstreams[${i}]`;
    const up = obj(u, where);
    known(up, where, ['name', 'url', 'hosts', 'credential', 'routes']);
    const name = str(up.name, `${where}.name`, NAME, 'lowercase letters, digits, _ or -');
    if (names.has(name)) fail(`${where}.name`, `repeats "${name}"; names must be unique`);
    names.add(name);
    let url: URL;
    try {
      url = new URL(str(up.url, `${where}.url`));
    } catch {
      return fail(`${where}.url`, 'must be an absolute http(s) URL, e.g. https://api.github.com');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      fail(`${where}.url`, 'must be http: or https:');
    if (url.username || url.password || url.search || url.hash) {
      fail(
        `${where}.url`,
        'must not hold credentials, a query or a fragment; put the credential under credential:',
      );
    }
    const hosts = new Set([url.host.toLowerCase()]);
    if (up.hosts !== undefined) {
      if (!Array.isArray(up.hosts)) fail(`${where}.hosts`, 'must be a list of host[:port]');
      for (const [j, h] of (up.hosts as unknown[]).entries())
        hosts.add(str(h, `${where}.hosts[${j}]`).toLowerCase());
    }
    const cred = obj(up.credential, `${where}.credential`);
    known(cred, `${where}.credential`, ['env', 'file', 'header', 'format']);
    let secret: string;
    let source: string;
    if ((cred.env === undefined) === (cred.file === undefined)) {
      return fail(
        `${where}.credential`,
        'needs exactly one of env: VAR_NAME or file: path (the secret itself never goes in this file)',
      );
    }
    if (cred.env !== undefined) {
      const name = str(
        cred.env,
        `${where}.credential.env`,
        /^[A-Za-z_][A-Za-z0-9_]*$/,
        'an environment variable name',
      );
      source = `env ${name}`;
      secret = env[name] ?? '';
      if (secret === '')
        fail(
          `${where}.credential.env`,
          `names ${name}, which is not set or empty in the gateway's environment; export it before starting the gateway`,
        );
    } else {
      const credFile = rel(str(cred.file, `${where}.credential.file`));
      source = `file ${credFile}`;
      try {
        secret = fs.readFileSync(credFile, 'utf8').trim();
      } catch (error) {
        return fail(`${where}.credential.file`, `cannot be read: ${(error as Error).message}`);
      }
      if (secret === '') fail(`${where}.credential.file`, `(${credFile}) is empty`);
    }
    if (/[\r\n\0]/.test(secret))
      fail(`${where}.credential`, `(${source}) holds a line break or NUL; a header value cannot`);
    const header = str(
      cred.header ?? 'authorization',
      `${where}.credential.header`,
      HEADER,
      'an HTTP header name',
    ).toLowerCase();
    const format = str(cred.format ?? 'Bearer {secret}', `${where}.credential.format`);
    if (!format.includes('{secret}'))
      fail(`${where}.credential.format`, "must contain {secret}, e.g. 'Bearer {secret}'");
    if (!Array.isArray(up.routes) || up.routes.length === 0) {
      fail(
        `${where}.routes`,
        'must list at least one route (scope, methods, path); nothing else is forwarded',
      );
    }
    const routes = (up.routes as unknown[]).map((r, j): GatewayRoute => {
      const rw = `${where}.routes[${j}]`;
      const route = obj(r, rw);
      known(route, rw, ['scope', 'methods', 'path']);
      const scope = str(route.scope, `${rw}.scope`, SCOPE, 'a scope name such as github:read');
      if (!Array.isArray(route.methods) || route.methods.length === 0)
        fail(`${rw}.methods`, 'must list HTTP methods, e.g. [GET]');
      const methods = new Set(
        (route.methods as unknown[]).map((m, k) => {
          const method = str(m, `${rw}.methods[${k}]`).toUpperCase();
          if (!METHODS.has(method))
            fail(`${rw}.methods[${k}]`, `must be one of ${[...METHODS].join(', ')}`);
          return method;
        }),
      );
      const p = str(
        route.path,
        `${rw}.path`,
        /^\/[^\s?#]*$/,
        "a path starting with /, '*' for one segment, '**' for the rest",
      );
      return Object.freeze({ scope, methods, path: p, pattern: pathPattern(p) });
    });
    return Object.freeze({
      name,
      url,
      hosts,
      credentialHeader: header,
      credentialValue: format.replace('{secret}', secret),
      credentialSource: source,
      routes: Object.freeze(routes),
    });
  });
  return Object.freeze({
    file: abs,
    host: listen.slice(0, colon),
    port,
    audience,
    storeDir,
    trustDir,
    publicKeys: Object.freeze(publicKeys),
    revoked,
    clockToleranceSeconds: tolerance as number,
    refHeader,
    upstreams: Object.freeze(upstreams),
    version: `sha256:${createHash('sha256').update(text).digest('hex')}`,
  });
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 60));
  return Array.isArray(v) ? 'a list' : typeof v;
}
