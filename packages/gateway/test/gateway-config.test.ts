import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateTokenKeyPair } from '@agent-audit/credentials';
import { loadGatewayConfig, pathPattern } from '@agent-audit/gateway';
import { afterAll, describe, expect, it } from 'vitest';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'aa-gwcfg-'));
fs.writeFileSync(path.join(root, 'issuer.pub.pem'), generateTokenKeyPair().publicKeyPem);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const GOOD = `audience: gw
trust:
  publicKeys: [issuer.pub.pem]
upstreams:
  - name: api
    url: https://api.example.com/v1
    credential: { env: API_TOKEN }
    routes:
      - { scope: "api:read", methods: [get], path: "/repos/**" }
`;

function load(text: string, env: NodeJS.ProcessEnv = { API_TOKEN: 'real-secret-value' }) {
  const file = path.join(root, 'gateway.yaml');
  fs.writeFileSync(file, text);
  return () => loadGatewayConfig(file, env);
}

describe('gateway configuration', () => {
  it('reads a valid file: paths relative to it, the credential from the environment', () => {
    const config = load(GOOD)();
    expect(config.storeDir).toBe(path.join(root, '.agent-audit-gateway'));
    expect(config.upstreams[0]!.credentialValue).toBe('Bearer real-secret-value');
    expect([...config.upstreams[0]!.routes[0]!.methods]).toEqual(['GET']);
    expect(config.version).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('names the file, the field and the fix; never prints the secret', () => {
    const file = path.join(root, 'gateway.yaml');
    const cases: Array<[string, NodeJS.ProcessEnv | undefined, RegExp]> = [
      [GOOD, {}, /upstreams\[0\]\.credential\.env names API_TOKEN, which is not set/],
      [GOOD.replace('audience: gw\n', ''), undefined, /audience must be the audience run tokens/],
      [
        GOOD.replace('[issuer.pub.pem]', '[missing.pem]'),
        undefined,
        /trust\.publicKeys\[0\] cannot be read/,
      ],
      [
        GOOD.replace('methods: [get]', 'methods: [FETCH]'),
        undefined,
        /routes\[0\]\.methods\[0\] must be one of GET/,
      ],
      [
        GOOD.replace('{ env: API_TOKEN }', '{ env: A, file: b }'),
        undefined,
        /needs exactly one of env/,
      ],
      [
        GOOD.replace('https://api.example.com/v1', 'https://u:p@api.example.com'),
        undefined,
        /must not hold credentials/,
      ],
      [`${GOOD}extra: 1\n`, undefined, /the document\.extra is not a known field/],
      ['a: [', undefined, /is not valid YAML/],
    ];
    for (const [text, env, re] of cases) {
      let message = '';
      try {
        load(text, env ?? { API_TOKEN: 'real-secret-value' })();
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, text).toMatch(re);
      expect(message.startsWith(`${file}: `)).toBe(true);
      expect(message).not.toContain('real-secret-value');
    }
  });

  it("loads the README's example configuration as written", () => {
    const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)![1]!;
    fs.copyFileSync(path.join(root, 'issuer.pub.pem'), path.join(root, 'token-issuer.pub.pem'));
    fs.writeFileSync(path.join(root, 'revoked.txt'), '# none yet\n');
    const config = load(yaml, { GITHUB_TOKEN: 'real-secret-value' })();
    expect(config.upstreams[0]).toMatchObject({
      name: 'github',
      credentialHeader: 'authorization',
    });
    expect(config.upstreams[0]!.routes.map((r) => r.scope)).toEqual([
      'github:read',
      'github:issues:write',
    ]);
  });

  it('matches * to one path segment and ** to the rest', () => {
    expect(pathPattern('/repos/*/issues').test('/repos/acme/issues')).toBe(true);
    expect(pathPattern('/repos/*/issues').test('/repos/a/b/issues')).toBe(false);
    expect(pathPattern('/repos/**').test('/repos/a/b/c')).toBe(true);
    expect(pathPattern('/repos/**').test('/reposx')).toBe(false);
    expect(pathPattern('/a.b').test('/aXb')).toBe(false);
  });
});
