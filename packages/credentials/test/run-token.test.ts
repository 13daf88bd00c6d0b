import { inspect } from 'node:util';
import {
  createTokenIssuer,
  createTokenVerifier,
  generateTokenKeyPair,
  REF_PATTERN,
} from '@agent-audit/credentials';
import { describe, expect, it } from 'vitest';

const keys = generateTokenKeyPair();
const issuer = createTokenIssuer({ privateKey: keys.privateKeyPem });
const verifier = createTokenVerifier({ publicKeys: [keys.publicKeyPem] });
const T0 = new Date('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);

function issue(over: Partial<Parameters<typeof issuer.issue>[0]> = {}) {
  return issuer.issue({
    runId: 'run-1',
    agentId: 'support-agent',
    principal: 'user:456',
    tenantId: 'acme',
    scopes: ['github:read'],
    audience: 'gateway',
    ttlSeconds: 60,
    now: T0,
    ...over,
  });
}

/** The token with its claims replaced (signature kept). */
function withClaims(token: string, patch: Record<string, unknown>): string {
  const [prefix, claims, sig] = token.split('.');
  const json = JSON.parse(Buffer.from(claims!, 'base64url').toString('utf8'));
  const next = Buffer.from(JSON.stringify({ ...json, ...patch })).toString('base64url');
  return `${prefix}.${next}.${sig}`;
}

describe('run tokens', () => {
  it('verifies a fresh token and returns its claims', () => {
    const t = issue();
    expect(t.ref).toMatch(REF_PATTERN);
    expect(t.token.startsWith('aat1.')).toBe(true);
    const v = verifier.verify(t.token, { audience: 'gateway', scope: 'github:read', now: at(1) });
    expect(v).toEqual({ ok: true, claims: t.claims });
    expect(t.claims).toMatchObject({
      run: 'run-1',
      agent: 'support-agent',
      principal: 'user:456',
      tenant: 'acme',
      kid: issuer.keyId,
      exp: t.claims.iat + 60,
    });
  });

  it('gives a precise reason for each refusal', () => {
    const t = issue();
    const reason = (token: string, scope?: string, now = at(1), v = verifier) => {
      const r = v.verify(token, { audience: 'gateway', now, ...(scope ? { scope } : {}) });
      return r.ok ? 'ok' : r.reason;
    };
    expect(reason(t.token, 'github:write')).toBe('scope_not_granted');
    expect(reason(t.token, undefined, at(60))).toBe('expired');
    expect(reason(t.token, undefined, at(59))).toBe('ok');
    expect(reason(t.token, undefined, at(-10))).toBe('not_yet_valid');
    expect(reason(issue({ audience: 'other' }).token)).toBe('wrong_audience');
    expect(reason('Bearer nonsense')).toBe('malformed');
    expect(reason(`${t.token}x`)).toBe('malformed');
    // Forged: the principal rewritten, the signature kept.
    expect(reason(withClaims(t.token, { principal: 'user:admin' }))).toBe('bad_signature');
    expect(reason(withClaims(t.token, { exp: t.claims.exp + 3600 }), undefined, at(120))).toBe(
      'bad_signature',
    );
    // Signed by a key this verifier does not trust.
    const stranger = createTokenIssuer({ privateKey: generateTokenKeyPair().privateKeyPem });
    const foreign = stranger.issue({
      runId: 'run-1',
      agentId: 'a',
      principal: 'user:456',
      scopes: [],
      audience: 'gateway',
      now: T0,
    });
    expect(reason(foreign.token)).toBe('unknown_key');
    // Same claims, other key id, original signature: unknown key or bad signature, never ok.
    const revoking = createTokenVerifier({
      publicKeys: [keys.publicKeyPem],
      revoked: new Set([t.ref]),
    });
    expect(reason(t.token, undefined, at(1), revoking)).toBe('revoked');
  });

  it('attributes an authentic refusal to its run, and only claims the ref of a forged one', () => {
    const t = issue();
    const expired = verifier.verify(t.token, { audience: 'gateway', now: at(3600) });
    expect(expired).toMatchObject({ ok: false, reason: 'expired', claims: { run: 'run-1' } });
    const forged = verifier.verify(withClaims(t.token, { run: 'run-2' }), {
      audience: 'gateway',
      now: at(1),
    });
    expect(forged).toMatchObject({ ok: false, reason: 'bad_signature', claimedRef: t.ref });
    expect((forged as { claims?: unknown }).claims).toBeUndefined();
  });

  it('re-checks revocation and expiry on every use of a token it has verified before', () => {
    const t = issue();
    const revokedRefs = new Set<string>();
    const v = createTokenVerifier({
      publicKeys: [keys.publicKeyPem],
      revoked: (ref) => revokedRefs.has(ref),
    });
    expect(v.verify(t.token, { audience: 'gateway', now: at(1) }).ok).toBe(true);
    revokedRefs.add(t.ref);
    expect(v.verify(t.token, { audience: 'gateway', now: at(2) })).toMatchObject({
      reason: 'revoked',
    });
    revokedRefs.clear();
    expect(v.verify(t.token, { audience: 'gateway', now: at(60) })).toMatchObject({
      reason: 'expired',
    });
    expect(v.verify(t.token, { audience: 'other', now: at(3) })).toMatchObject({
      reason: 'wrong_audience',
    });
  });

  it('never shows the secret when the token object is logged or serialised', () => {
    const t = issue();
    for (const shown of [JSON.stringify(t), String(t), inspect(t), `${t}`, inspect({ t })]) {
      expect(shown).not.toContain(t.token);
      expect(shown).not.toContain(t.token.split('.')[2]);
    }
    expect(JSON.stringify(t)).toContain(t.ref);
  });

  it('refuses bad options with a Configuration error', () => {
    expect(() => issue({ ttlSeconds: 0 })).toThrow(/Configuration: ttlSeconds is invalid/);
    expect(() => issue({ principal: 'user:\u202eevil' })).toThrow(/Configuration: principal/);
    expect(() => issue({ scopes: ['has space'] })).toThrow(/Configuration: scopes/);
    expect(() => createTokenIssuer({ privateKey: 'not a key' })).toThrow(
      /Configuration: privateKey is invalid/,
    );
    expect(() => createTokenVerifier({ publicKeys: [] })).toThrow(/Configuration: publicKeys/);
  });
});
