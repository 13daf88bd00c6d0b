import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  configureRunContextTrust,
  extractRunContext,
  getRunContext,
  injectRunContext,
  MissingRunContextError,
  RUN_CONTEXT_HEADER,
  runWorkflow,
  setAuditHooks,
  traceToolCall,
} from '../src/index.js';
import { runContextKeyId, signRunContext } from '../src/run-context-token.js';
import { setupOtel, type TestOtel } from './support/otel.js';

// Issue 13 §3 (RELIABILITY row 45): a sub-agent adopts a remote run and principal only from a
// signed run context it can verify; anything else is recorded as claimed and never adopted.

let otel: TestOtel;
const caller = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');
const AUDIENCE = 'acme-agents';

beforeAll(() => {
  otel = setupOtel();
  configureRunContextTrust({
    audience: AUDIENCE,
    signingKey: caller.privateKey,
    trustedKeys: [caller.publicKey.export({ type: 'spki', format: 'pem' }) as string],
  });
});
afterEach(() => {
  otel.reset();
  setAuditHooks(undefined);
});
afterAll(() => configureRunContextTrust(undefined));

/** Headers an orchestrator sends from inside its run (signed). */
function callerHeaders(runId = 'run-signed-1', principal = 'user:456'): Record<string, string> {
  return runWorkflow({ agentId: 'orchestrator', runId, triggerPrincipal: principal }, () =>
    injectRunContext({} as Record<string, string>),
  );
}

/** What the sub-agent records for `headers`: its run span's attributes and the adopted run. */
async function subAgent(headers: Record<string, string>) {
  const ctx = extractRunContext(headers, ROOT_CONTEXT);
  const adopted = getRunContext(ctx);
  await context.with(ctx, () =>
    runWorkflow({ agentId: 'sub-agent', agentName: 'Sub' }, () =>
      traceToolCall({ toolName: 'sub.lookup', input: { id: 7 } }, () => 'ok'),
    ),
  );
  return {
    adopted,
    run: otel.byName('invoke_agent Sub').attributes,
    tool: otel.byName('execute_tool sub.lookup').attributes,
  };
}

function rewriteClaims(token: string, patch: Record<string, unknown>): string {
  const [prefix, claims, sig] = token.split('.');
  const json = JSON.parse(Buffer.from(claims!, 'base64url').toString('utf8'));
  return `${prefix}.${Buffer.from(JSON.stringify({ ...json, ...patch })).toString('base64url')}.${sig}`;
}

describe('signed run context', () => {
  it('adopts a verified run and principal, marked verified', async () => {
    const headers = callerHeaders();
    expect(headers[RUN_CONTEXT_HEADER]).toMatch(/^arc1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$/);
    const { adopted, run, tool } = await subAgent(headers);
    expect(adopted).toMatchObject({
      runId: 'run-signed-1',
      triggerPrincipal: 'user:456',
      verified: true,
    });
    for (const attrs of [run, tool]) {
      expect(attrs['workflow.run_id']).toBe('run-signed-1');
      expect(attrs['trigger.principal']).toBe('user:456');
      expect(attrs['run_context.status']).toBe('verified');
      expect(attrs['run_context.claimed_run_id']).toBeUndefined();
    }
  });

  const attacks: Array<[string, (h: Record<string, string>) => Record<string, string>, string]> = [
    ['no signature (the one-curl attack)', (h) => ({ ...h, [RUN_CONTEXT_HEADER]: '' }), 'unsigned'],
    [
      'baggage principal rewritten, signature kept',
      (h) => ({ ...h, baggage: h.baggage!.replace('user%3A456', 'user%3Aadmin') }),
      'run_mismatch',
    ],
    [
      'signed claims rewritten',
      (h) => ({
        ...h,
        [RUN_CONTEXT_HEADER]: rewriteClaims(h[RUN_CONTEXT_HEADER]!, { principal: 'user:admin' }),
      }),
      'bad_signature',
    ],
    [
      'replayed into another trace',
      (h) => ({ ...h, traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01` }),
      'trace_mismatch',
    ],
    ['garbage', (h) => ({ ...h, [RUN_CONTEXT_HEADER]: 'arc1.x.y' }), 'malformed'],
  ];
  for (const [name, attack, reason] of attacks) {
    it(`records "${name}" as claimed (${reason}), never as the run or its principal`, async () => {
      const headers = attack(callerHeaders());
      const { adopted, run, tool } = await subAgent(headers);
      expect(adopted).toBeUndefined();
      expect(run['workflow.run_id']).not.toBe('run-signed-1');
      for (const attrs of [run, tool]) {
        expect(attrs['trigger.principal']).toBeUndefined();
        expect(attrs['run_context.status']).toBe('claimed');
        expect(attrs['run_context.claimed_run_id']).toBe('run-signed-1');
        expect(attrs['run_context.claim_reason']).toBe(reason);
      }
      // Whatever principal the baggage named is kept as claimed only.
      const claimed = reason === 'run_mismatch' ? 'user:admin' : 'user:456';
      expect(run['run_context.claimed_principal']).toBe(claimed);
    });
  }

  it('refuses a signature by an untrusted key, an expired one and one for another audience', async () => {
    const headers = callerHeaders();
    const traceId = headers.traceparent!.split('-')[1]!;
    const now = Math.floor(Date.now() / 1000);
    const base = {
      run: 'run-signed-1',
      principal: 'user:456',
      trace: traceId,
      iat: now,
      exp: now + 60,
    };
    const cases: Array<[string, string]> = [
      [
        signRunContext(
          { ...base, aud: AUDIENCE },
          stranger.privateKey,
          runContextKeyId(stranger.publicKey),
        ),
        'unknown_key',
      ],
      [
        signRunContext(
          { ...base, aud: AUDIENCE, iat: now - 600, exp: now - 300 },
          caller.privateKey,
          runContextKeyId(createPublicKey(caller.privateKey)),
        ),
        'expired',
      ],
      [
        signRunContext(
          { ...base, aud: 'other' },
          caller.privateKey,
          runContextKeyId(caller.publicKey),
        ),
        'wrong_audience',
      ],
    ];
    for (const [token, reason] of cases) {
      otel.reset();
      const { adopted, run } = await subAgent({ ...headers, [RUN_CONTEXT_HEADER]: token });
      expect(adopted, reason).toBeUndefined();
      expect(run['run_context.claim_reason']).toBe(reason);
    }
  });

  it('in strict mode, a tool call under an unverified context is refused before it runs', async () => {
    setAuditHooks({ strict: true });
    const ctx = extractRunContext({ ...callerHeaders(), [RUN_CONTEXT_HEADER]: '' }, ROOT_CONTEXT);
    let ran = false;
    await expect(
      context.with(ctx, () =>
        traceToolCall({ toolName: 'transfer', input: {} }, () => {
          ran = true;
        }),
      ),
    ).rejects.toBeInstanceOf(MissingRunContextError);
    expect(ran).toBe(false);
    const span = otel.byName('execute_tool transfer').attributes;
    expect(span['run_context.claimed_principal']).toBe('user:456');
    expect(span['trigger.principal']).toBeUndefined();
  });

  it('without trusted keys, a remote run is adopted from baggage as before', () => {
    configureRunContextTrust({ audience: AUDIENCE, signingKey: caller.privateKey });
    try {
      const ctx = extractRunContext({ ...callerHeaders(), [RUN_CONTEXT_HEADER]: '' }, ROOT_CONTEXT);
      expect(getRunContext(ctx)).toMatchObject({ runId: 'run-signed-1', remote: true });
      expect(getRunContext(ctx)?.verified).toBeUndefined();
    } finally {
      configureRunContextTrust({
        audience: AUDIENCE,
        signingKey: caller.privateKey,
        trustedKeys: [caller.publicKey],
      });
    }
  });

  it('refuses bad trust options with a Configuration error', () => {
    expect(() => configureRunContextTrust({ audience: '' })).toThrow(
      /Configuration: audience is invalid/,
    );
    expect(() => configureRunContextTrust({ audience: 'a', signingKey: 'nope' })).toThrow(
      /Configuration: signingKey is invalid/,
    );
    expect(() => configureRunContextTrust({ audience: 'a', trustedKeys: ['nope'] })).toThrow(
      /Configuration: trustedKeys\[0\] is invalid/,
    );
  });
});
