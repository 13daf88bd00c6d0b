/*
 * Issue 13 §3 (RELIABILITY row 51), across languages: a Python orchestrator using the REAL OpenTelemetry Python SDK
 * from PyPI (tools/python/venv, installed by `bash tools/python/install.sh`, which
 * scripts/setup.sh runs) and its standard propagators hands a run to a TypeScript sub-agent.
 * The principal must arrive byte for byte, plain and signed. The Python baggage propagator
 * form-encodes (a space becomes `+`); a compliant encoder's literal `+` must stay a `+`.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  configureRunContextTrust,
  getRunContext,
  injectRunContext,
  runWorkflow,
  traceToolCall,
  withRemoteRunContext,
} from '@agent-audit/instrumentation';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../packages/cli/test/support/run-cli.js';
import { REPO_ROOT } from '../support/jaeger.js';

const PYTHON = join(REPO_ROOT, 'tools/python/venv/bin/python');
const ORCHESTRATOR = join(REPO_ROOT, 'test/integration/fixtures/python-orchestrator.py');
const AUDIENCE = 'polyglot-agents';
const exec = promisify(execFile);

let root: string;
let storeDir: string;
let audit: AgentAuditHandle;
const orchestratorKey = generateKeyPairSync('ed25519');

/** The headers the Python orchestrator's global propagator (and, if asked, signer) wrote. */
async function fromPython(
  runId: string,
  principal: string,
  sign: boolean,
): Promise<Record<string, string>> {
  const child = exec(PYTHON, [ORCHESTRATOR], {
    env: { ...process.env, PYTHONIOENCODING: 'utf-8' },
  });
  child.child.stdin!.end(
    JSON.stringify({
      run_id: runId,
      principal,
      sign: sign
        ? {
            audience: AUDIENCE,
            private_key_pem: orchestratorKey.privateKey
              .export({ type: 'pkcs8', format: 'pem' })
              .toString(),
          }
        : null,
    }),
  );
  const { stdout } = await child;
  return JSON.parse(stdout) as Record<string, string>;
}

/** The TypeScript sub-agent: adopt what the headers carry, run, call a tool; what it saw. */
async function subAgent(headers: Record<string, string>) {
  return withRemoteRunContext(headers, () =>
    runWorkflow({ agentId: 'ts-sub-agent', credentialRef: 'cred:sub' }, async (run) => {
      await traceToolCall({ toolName: 'draft', input: { n: 1 } }, () => 'ok');
      return { runId: run.runId, principal: getRunContext()?.triggerPrincipal };
    }),
  );
}

async function runsOf(principal: string): Promise<string[]> {
  await audit.forceFlush();
  const r = await runCli(['--store', storeDir, 'runs', '--principal', principal, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).map((row: { run_id: string }) => row.run_id);
}

beforeAll(() => {
  if (!existsSync(PYTHON)) {
    throw new Error(
      `${PYTHON} is missing: install the OpenTelemetry Python SDK with "bash tools/python/install.sh" (scripts/setup.sh runs it)`,
    );
  }
  root = mkdtempSync(join(tmpdir(), 'aa-python-otel-'));
  storeDir = join(root, 'store');
  audit = registerAgentAudit({
    storeDir,
    trustDir: join(root, 'trust'),
    forward: false,
    installExitHandlers: false,
    serviceName: 'ts-sub-agent',
  });
});

afterAll(async () => {
  configureRunContextTrust(undefined);
  await audit?.shutdown();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('a Python orchestrator (OpenTelemetry Python SDK) hands a run to a TypeScript sub-agent', () => {
  it('is the real Python SDK, and it does write a space as "+" (the case under test)', async () => {
    const { stdout } = await exec(PYTHON, [
      '-c',
      "from importlib.metadata import version; print(version('opentelemetry-sdk'), version('opentelemetry-api'))",
    ]);
    expect(stdout.trim()).toBe('1.45.2 1.45.2');
    const headers = await fromPython('run-py-probe', 'user:jane doe@example.com', false);
    expect(headers.baggage).toContain('trigger.principal=user%3Ajane+doe%40example.com');
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$/);
  });

  const PRINCIPALS = [
    'user:jane doe@example.com',
    'user:jane+doe@example.com',
    'user:a b+c d',
    'user:josé garcía',
    'group:ops team/on call',
  ];

  it.each(PRINCIPALS)('plain context: %j arrives byte for byte', async (principal) => {
    const runId = `run-py-plain-${PRINCIPALS.indexOf(principal)}`;
    const seen = await subAgent(await fromPython(runId, principal, false));
    expect(seen).toEqual({ runId, principal });
    expect(await runsOf(principal)).toContain(runId);
  });

  it('a compliant encoder\'s literal "+" stays a "+" (OpenTelemetry Go/Java leave it unescaped)', async () => {
    // What OpenTelemetry Go writes for `user:jane+doe@example.com`: baggage octets left as is.
    const headers = {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      baggage: 'workflow.run_id=run-go-1,trigger.principal=user:jane+doe@example.com',
    };
    expect(await subAgent(headers)).toEqual({
      runId: 'run-go-1',
      principal: 'user:jane+doe@example.com',
    });
    // A mixed header: one value with a literal ":" is evidence of a compliant encoder.
    const mixed = {
      ...headers,
      baggage: 'workflow.run_id=run-go-2,trigger.principal=a+b%20c,other=x:y',
    };
    expect((await subAgent(mixed)).principal).toBe('a+b c');
  });

  it('OpenTelemetry JS (this side) round-trips a space and a "+" unchanged', async () => {
    for (const principal of ['user:jane doe@example.com', 'user:jane+doe@example.com']) {
      const headers = runWorkflow(
        { agentId: 'ts-orchestrator', runId: 'run-js-1', triggerPrincipal: principal },
        () => injectRunContext({} as Record<string, string>),
      );
      expect((await subAgent(headers)).principal).toBe(principal);
    }
  });

  it('a value with only letters and a space is ambiguous unsigned ("+", as the spec reads it); signed, it is exact', async () => {
    // `jane doe` -> `jane+doe`: nothing else in the header shows a form encoder.
    const plain = await subAgent(await fromPython('run-py-ambiguous', 'jane doe', false));
    expect(plain.principal).toBe('jane+doe');
    configureRunContextTrust({
      audience: AUDIENCE,
      trustedKeys: [orchestratorKey.publicKey.export({ type: 'spki', format: 'pem' }).toString()],
    });
    try {
      const signed = await subAgent(await fromPython('run-py-ambiguous-s', 'jane doe', true));
      expect(signed).toEqual({ runId: 'run-py-ambiguous-s', principal: 'jane doe' });
    } finally {
      configureRunContextTrust(undefined);
    }
  });

  it.each(PRINCIPALS)(
    'signed context (Ed25519 signed in Python): %j is verified and arrives byte for byte',
    async (principal) => {
      configureRunContextTrust({
        audience: AUDIENCE,
        trustedKeys: [orchestratorKey.publicKey.export({ type: 'spki', format: 'pem' }).toString()],
      });
      try {
        const runId = `run-py-signed-${PRINCIPALS.indexOf(principal)}`;
        const headers = await fromPython(runId, principal, true);
        expect(headers['agent-audit-run-context']).toMatch(/^arc1\./);
        expect(await subAgent(headers)).toEqual({ runId, principal });
        // The forged variant: the same signed context, the baggage principal rewritten.
        const forged = {
          ...headers,
          baggage: headers.baggage!.replace(
            /trigger\.principal=[^,]*/,
            'trigger.principal=user%3Amallory',
          ),
        };
        const seen = await subAgent(forged);
        expect(seen.runId).not.toBe(runId);
        expect(seen.principal).toBeUndefined();
      } finally {
        configureRunContextTrust(undefined);
      }
    },
  );

  it('the store attributes the signed runs to the principal byte for byte, verified', async () => {
    await audit.forceFlush();
    const r = await runCli(['--store', storeDir, 'trail', 'run-py-signed-0', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const spans = JSON.parse(r.stdout).spans as { attributes: Record<string, unknown> }[];
    expect(spans.length).toBeGreaterThan(0);
    for (const s of spans) {
      expect(s.attributes['trigger.principal']).toBe('user:jane doe@example.com');
      expect(s.attributes['run_context.status']).toBe('verified');
    }
    expect(await runsOf('user:jane+doe@example.com')).not.toContain('run-py-plain-0');
  });
});
