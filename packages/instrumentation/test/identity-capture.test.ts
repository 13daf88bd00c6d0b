import { generateKeyPairSync } from 'node:crypto';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import {
  configureRunContextTrust,
  escapeIdentity,
  extractRunContext,
  getRunContext,
  identityProblem,
  isSafeIdentity,
  runWorkflow,
} from '../src/index.js';
import { runContextKeyId, signRunContext, verifyRunContext } from '../src/run-context-token.js';
import { useOtel } from './support/otel.js';

// Issue 13 §3 (RELIABILITY row 50): principals and ids are validated at capture. Each character class below can
// make a principal render as another one (or rewrite the terminal line it is shown on); each
// is refused in runWorkflow's options, in a remote run context (plain baggage and signed) and
// (packages/mcp/test/meta-identity.test.ts) in an MCP request's `_meta`.

const ATTACKS: Array<[string, string]> = [
  ['C0 BEL', 'user:a\u0007'],
  ['C0 ESC (terminal escape)', 'user:\u001b[2Kadmin'],
  ['newline (log line injection)', 'user:a\nuser:admin'],
  ['DEL', 'user:a\u007f'],
  ['C1 NEL', 'user:a\u0085'],
  ['C1 CSI', 'user:\u009b2Kadmin'],
  ['bidi RLO override', 'user:\u202enimda'],
  ['bidi LRE embedding', 'user:\u202aadmin'],
  ['bidi RLI isolate', 'user:\u2067admin'],
  ['bidi PDI', 'user:admin\u2069'],
  ['RLM mark', 'user:admin\u200f'],
  ['Arabic letter mark', 'user:admin\u061c'],
  ['zero-width space', 'user:ad\u200bmin'],
  ['zero-width joiner', 'user:ad\u200dmin'],
  ['word joiner', 'user:ad\u2060min'],
  ['BOM / ZWNBSP', '\ufeffuser:admin'],
  ['line separator', 'user:a\u2028b'],
  ['lone high surrogate', 'user:a\ud800'],
  ['lone low surrogate', 'user:\udc00a'],
  ['too long', `user:${'a'.repeat(252)}`],
];

const ACCEPTED = [
  'user:456',
  'user:jane doe@example.com',
  'user:jane+doe@example.com',
  'user:josé.garcía',
  'user:山田太郎',
  'user:😀',
  `user:${'a'.repeat(251)}`,
];

const otel = useOtel({ afterEach: () => configureRunContextTrust(undefined) });

describe('identityProblem', () => {
  it.each(ATTACKS)('refuses %s', (_name, value) => {
    expect(identityProblem(value)).toBeDefined();
    expect(isSafeIdentity(value)).toBe(false);
  });

  it('accepts ordinary principals, spaces, plus signs and non-Latin scripts', () => {
    for (const value of ACCEPTED) expect(identityProblem(value), value).toBeUndefined();
  });

  it('escapes what it refuses, so an error message shows it without rendering it', () => {
    expect(escapeIdentity('user:\u202enimda\u001b')).toBe('user:\\u{202E}nimda\\u{1B}');
    expect(escapeIdentity('user:\ud800')).toBe('user:\\u{D800}');
    expect(escapeIdentity('x'.repeat(100), 10)).toBe(`${'x'.repeat(10)}…`);
  });
});

describe('runWorkflow refuses them in its options, before the run starts', () => {
  for (const field of ['triggerPrincipal', 'agentId', 'tenantId', 'credentialRef'] as const) {
    it.each(ATTACKS)(`${field}: %s`, (_name, value) => {
      let ran = false;
      const options = { agentId: 'agent-1', [field]: value };
      let message = '';
      try {
        runWorkflow(options, () => {
          ran = true;
        });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(new RegExp(`^Configuration: ${field} is invalid, expected 1-256`));
      expect(ran).toBe(false);
      // The message never carries the raw character (only its escape).
      expect(identityProblem(message.replace(/\n/g, ' '), 10_000)).toBeUndefined();
      expect(otel.exporter.getFinishedSpans()).toHaveLength(0);
    });
  }

  it('accepts the ordinary ones', () => {
    for (const principal of ACCEPTED) {
      expect(
        runWorkflow({ agentId: 'agent-1', triggerPrincipal: principal }, (run) => run.runId),
      ).toBeTruthy();
    }
  });
});

describe('a remote run context never adopts them', () => {
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

  it.each(ATTACKS)(
    'plain baggage, principal with %s: the run is adopted, the principal is not',
    (_n, value) => {
      let encoded: string;
      try {
        encoded = encodeURIComponent(value);
      } catch {
        // A lone surrogate cannot be percent-encoded; send its raw UTF-16 instead.
        encoded = value;
      }
      const baggage = `workflow.run_id=run-remote-1,trigger.principal=${encoded}`;
      const run = getRunContext(extractRunContext({ traceparent, baggage }, ROOT_CONTEXT));
      expect(run?.runId).toBe('run-remote-1');
      expect(run?.triggerPrincipal).toBeUndefined();
    },
  );

  it('plain baggage, a run id with a control or bidi character: no run adopted', () => {
    for (const runId of ['run\u0007', 'run%E2%80%AE1', `r${'1'.repeat(200)}`]) {
      const run = getRunContext(
        extractRunContext({ traceparent, baggage: `workflow.run_id=${runId}` }, ROOT_CONTEXT),
      );
      expect(run, runId).toBeUndefined();
    }
  });

  it.each(ATTACKS)('signed context whose principal has %s: malformed, not adopted', (_n, value) => {
    const keys = generateKeyPairSync('ed25519');
    const keyId = runContextKeyId(keys.publicKey);
    const now = Math.floor(Date.now() / 1000);
    // A caller holding a trusted key signs a principal it should never have accepted.
    const token = signRunContext(
      {
        run: 'run-signed-9',
        principal: value,
        trace: '0af7651916cd43dd8448eb211c80319c',
        aud: 'agents',
        iat: now,
        exp: now + 60,
      },
      keys.privateKey,
      keyId,
    );
    const verdict = verifyRunContext(token, new Map([[keyId, keys.publicKey]]), {
      audience: 'agents',
      traceId: '0af7651916cd43dd8448eb211c80319c',
      now,
    });
    expect(verdict).toEqual({ ok: false, reason: 'malformed' });
  });
});
