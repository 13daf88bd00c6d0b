import { generateKeyPairSync } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  AuditRefusedError,
  injectRunContext,
  MissingRunContextError,
  PolicyStopError,
  RUN_CONTEXT_HEADER,
  runWorkflow,
  traceToolCall,
  withRemoteRunContext,
} from '@agent-audit/instrumentation';
import { AuditStore } from '@agent-audit/store';
import { context, propagation, trace } from '@opentelemetry/api';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { AlwaysOnSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getAgentAudit, registerAgentAudit } from '../src/register-agent-audit.js';
import { attrsOf, readSegments, spanOf, type TempStore, tempStore } from './helpers.js';

const RUN = {
  agentId: 'reg-agent',
  triggerPrincipal: 'user:1',
  credentialRef: 'cred-ref:reg',
  input: { x: 1 },
};

describe('registerAgentAudit', () => {
  let ts: TempStore;

  beforeEach(() => {
    ts = tempStore('aa-reg-');
  });
  afterEach(async () => {
    await getAgentAudit()?.shutdown();
    ts.cleanup();
  });

  function register(extra: Parameters<typeof registerAgentAudit>[0] = {}) {
    return registerAgentAudit({
      storeDir: ts.storeDir,
      trustDir: ts.trustDir,
      forward: false,
      installExitHandlers: false,
      serviceName: 'reg-test',
      ...extra,
    });
  }

  it('owns the globals: every span goes to the store, context follows async work, W3C headers carry the run', async () => {
    const audit = register();
    let headers: Record<string, string> = {};
    await runWorkflow(RUN, async () => {
      await new Promise((r) => setTimeout(r, 2));
      trace.getTracer('any-library').startSpan('library span').end();
      headers = {};
      propagation.inject(context.active(), headers);
    });
    await audit.forceFlush();
    const ends = readSegments(ts.storeDir).filter((r) => r.type === 'span.end');
    expect(ends.map((r) => r.tags.run)).toEqual([ends[0]!.tags.run, ends[0]!.tags.run]);
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(decodeURIComponent(headers.baggage ?? '')).toContain(
      `workflow.run_id=${ends[0]!.tags.run}`,
    );
    const resource = (
      ends[0]!.payload as { resourceSpans: { resource: { attributes: { key: string }[] } }[] }
    ).resourceSpans[0]!.resource.attributes.map((a) => a.key);
    expect(resource).toEqual(expect.arrayContaining(['service.name', 'process.pid']));
  });

  it('enables the given instrumentations: outgoing fetch inside a run is a stamped span carrying the run', async () => {
    const seen: Record<string, string | string[] | undefined>[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      const audit = register({ instrumentations: [new UndiciInstrumentation()] });
      const runId = await runWorkflow(RUN, async (run) => {
        await traceToolCall({ toolName: 'notify', input: 1 }, async () => {
          const res = await fetch(url, { method: 'POST', body: '{}' });
          await res.arrayBuffer();
        });
        return run.runId;
      });
      await audit.forceFlush();
      expect(decodeURIComponent(String(seen[0]?.baggage))).toContain(`workflow.run_id=${runId}`);
      const ends = readSegments(ts.storeDir).filter((r) => r.type === 'span.end');
      const client = ends.find((r) => spanOf(r).name === 'POST')!;
      expect(client.tags).toMatchObject({ run: runId, agent: 'reg-agent', principal: 'user:1' });
      const tool = ends.find((r) => r.tags.tool === 'notify')!;
      expect(client.tags.parent).toBe(tool.tags.span);
    } finally {
      server.close();
    }
  });

  it('installs the policy gate: a stop is durable in the store and the tool never runs', async () => {
    const audit = register({
      policy: (action) =>
        action.toolName === 'accounts.close'
          ? { outcome: 'stop', reason: 'agents do not close accounts', policyId: 'org-rules' }
          : { outcome: 'allow', policyId: 'org-rules' },
    });
    let ran = 0;
    const err = await runWorkflow(RUN, async () => {
      await traceToolCall({ toolName: 'kb.search', input: { q: 'a' } }, () => 'ok');
      await traceToolCall({ toolName: 'accounts.close', input: { id: 9 } }, () => {
        ran++;
      });
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyStopError);
    expect(ran).toBe(0);
    await audit.forceFlush();
    const ends = readSegments(ts.storeDir).filter((r) => r.type === 'span.end');
    const stopped = attrsOf(spanOf(ends.find((r) => r.tags.tool === 'accounts.close')!));
    expect(stopped).toMatchObject({ 'decision.outcome': 'stop', 'decision.policy': 'org-rules' });
    const allowed = attrsOf(spanOf(ends.find((r) => r.tags.tool === 'kb.search')!));
    expect(allowed).toMatchObject({ 'decision.outcome': 'allow', 'decision.policy': 'org-rules' });
  });

  it('records an ungoverned call as decision.policy = none when no policy is registered', async () => {
    const audit = register();
    await runWorkflow(RUN, () => traceToolCall({ toolName: 'kb.search', input: 1 }, () => 2));
    await audit.forceFlush();
    const ends = readSegments(ts.storeDir).filter((r) => r.type === 'span.end');
    const tool = attrsOf(spanOf(ends.find((r) => r.tags.tool === 'kb.search')!));
    expect(tool).toMatchObject({ 'decision.outcome': 'allow', 'decision.policy': 'none' });
  });

  it('refuses a policy that is not a function before anything is installed', () => {
    expect(() => register({ policy: {} as never })).toThrow(
      'Configuration: policy is invalid, expected a function (actual: object)',
    );
    expect(getAgentAudit()).toBeUndefined();
  });

  it('configures signed run context: a signer signs what it injects, a verifier adopts it and records a forgery as claimed', async () => {
    const keys = generateKeyPairSync('ed25519');
    // The caller's side: sign the run context it propagates.
    let audit = register({
      runContextTrust: { audience: 'reg-agents', signingKey: keys.privateKey },
    });
    let headers: Record<string, string> = {};
    await runWorkflow(RUN, () => {
      headers = injectRunContext({});
    });
    expect(headers[RUN_CONTEXT_HEADER]).toMatch(/^arc1\./);
    await audit.shutdown();
    // Shutdown removes the configuration with the rest of the registration.
    await runWorkflow(RUN, () => {
      expect(injectRunContext({} as Record<string, string>)[RUN_CONTEXT_HEADER]).toBeUndefined();
    });
    // The receiver's side: verify with the caller's public key.
    audit = register({
      runContextTrust: {
        audience: 'reg-agents',
        trustedKeys: [keys.publicKey.export({ type: 'spki', format: 'pem' }).toString()],
      },
    });
    const forged = { ...headers, baggage: headers.baggage!.replace('user%3A1', 'user%3Amallory') };
    expect(forged.baggage).not.toBe(headers.baggage);
    const seen: Array<string | undefined> = [];
    for (const carrier of [headers, forged]) {
      await withRemoteRunContext(carrier, () =>
        runWorkflow({ agentId: 'sub', credentialRef: 'cred:sub', input: 1 }, (run) => {
          seen.push(
            run.runId === headers.baggage!.match(/workflow\.run_id=([^,;]+)/)![1]
              ? 'adopted'
              : 'own',
          );
        }),
      );
    }
    expect(seen).toEqual(['adopted', 'own']);
    await audit.forceFlush();
    const statuses = readSegments(ts.storeDir)
      .filter((r) => r.type === 'span.end')
      .map((r) => attrsOf(spanOf(r)))
      .filter((a) => a['agent.id'] === 'sub')
      .map(
        (a) =>
          `${a['run_context.status']}:${a['trigger.principal'] ?? a['run_context.claimed_principal']}`,
      );
    expect(statuses).toEqual(['verified:user:1', 'claimed:user:mallory']);
  });

  it('refuses a bad runContextTrust before anything is installed, naming the option', () => {
    expect(() => register({ runContextTrust: { audience: '' } })).toThrow(
      'Configuration: runContextTrust.audience is invalid',
    );
    expect(() =>
      register({ runContextTrust: { audience: 'a', trustedKeys: ['not a key'] } }),
    ).toThrow('Configuration: runContextTrust.trustedKeys[0] is invalid');
    expect(() => register({ runContextTrust: 'yes' as never })).toThrow(
      'Configuration: runContextTrust is invalid, expected an object (actual: string)',
    );
    expect(getAgentAudit()).toBeUndefined();
  });

  it('reads the environment when called, and code wins over it', async () => {
    process.env.OTEL_SERVICE_NAME = 'from-env';
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'deployment.environment=staging,service.name=ignored';
    process.env.AGENT_AUDIT_STORE_DIR = `${ts.root}/env-store`;
    try {
      const audit = registerAgentAudit({
        trustDir: ts.trustDir,
        forward: false,
        installExitHandlers: false,
      });
      expect(audit.config.serviceName).toBe('from-env');
      expect(audit.store.dir).toBe(`${ts.root}/env-store`);
      const span = audit.provider.getTracer('t').startSpan('s') as unknown as {
        resource: { attributes: Record<string, unknown> };
        end(): void;
      };
      span.end();
      expect(span.resource.attributes).toMatchObject({
        'service.name': 'from-env',
        'deployment.environment': 'staging',
      });
      await audit.shutdown();
      const again = register();
      expect(again.config.serviceName).toBe('reg-test');
      expect(again.store.dir).toBe(ts.storeDir);
    } finally {
      delete process.env.OTEL_SERVICE_NAME;
      delete process.env.OTEL_RESOURCE_ATTRIBUTES;
      delete process.env.AGENT_AUDIT_STORE_DIR;
    }
  });

  it('returns the same handle on a second call, with a warning; shutdown is idempotent', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const first = register();
      const second = registerAgentAudit({ serviceName: 'ignored' });
      expect(second).toBe(first);
      expect(warn).toHaveBeenCalledWith(
        expect.stringContaining('called again'),
        expect.objectContaining({ code: 'AGENT_AUDIT_REGISTERED' }),
      );
      await Promise.all([first.shutdown(), first.shutdown()]);
      await first.shutdown();
      expect(getAgentAudit()).toBeUndefined();
      // The store was closed (its lock released): it can be opened again.
      const store = AuditStore.open({ dir: ts.storeDir, trustDir: ts.trustDir });
      await store.close();
    } finally {
      warn.mockRestore();
    }
  });

  it('keeps auditing when the forwarder cannot start (a damaged cursor), and says so', async () => {
    mkdirSync(join(ts.storeDir, 'forwarder'), { recursive: true });
    writeFileSync(join(ts.storeDir, 'forwarder', 'cursor.json'), '{"version":9}');
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const audit = register({ forward: true, otlpEndpoint: 'http://127.0.0.1:59999/v1/traces' });
      expect(audit.forwarder).toBeUndefined();
      expect(warn).toHaveBeenCalledWith(
        expect.stringContaining('forwarding to http://127.0.0.1:59999/v1/traces is off'),
        expect.objectContaining({ code: 'AGENT_AUDIT_FORWARDER' }),
      );
      await runWorkflow(RUN, () => traceToolCall({ toolName: 'still_audited', input: 1 }, () => 1));
      await audit.forceFlush();
      expect(readSegments(ts.storeDir).some((r) => r.tags.tool === 'still_audited')).toBe(true);
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses to run beside another tracer provider, and leaves nothing half-registered', () => {
    const other = new TracerProvider({ sampler: new AlwaysOnSampler() });
    trace.setGlobalTracerProvider(other);
    try {
      expect(() => register()).toThrow(/a global tracer provider is already registered/);
      expect(getAgentAudit()).toBeUndefined();
    } finally {
      trace.disable();
    }
  });

  it('refuses a sampler that would drop audit spans at startup', () => {
    process.env.OTEL_TRACES_SAMPLER = 'traceidratio';
    process.env.OTEL_TRACES_SAMPLER_ARG = '0.25';
    try {
      expect(() => register()).toThrow(/would drop 75% of audit spans/);
      expect(getAgentAudit()).toBeUndefined();
    } finally {
      delete process.env.OTEL_TRACES_SAMPLER;
      delete process.env.OTEL_TRACES_SAMPLER_ARG;
    }
  });

  it('strict mode refuses a tool call without a run or without a credential reference, before it runs', async () => {
    register({ strict: true });
    let ran = 0;
    await expect(
      traceToolCall({ toolName: 'orphan', input: 1 }, () => ran++),
    ).rejects.toBeInstanceOf(MissingRunContextError);
    await expect(
      runWorkflow({ agentId: 'no-cred', input: 1 }, () =>
        traceToolCall({ toolName: 'uncredentialed', input: 1 }, () => ran++),
      ),
    ).rejects.toBeInstanceOf(AuditRefusedError);
    expect(ran).toBe(0);
    await runWorkflow(RUN, () => traceToolCall({ toolName: 'fine', input: 1 }, () => ran++));
    expect(ran).toBe(1);
  });

  it('EventEmitter: a listener bound to the run keeps it; an unbound one emitted outside is a marked orphan', async () => {
    const audit = register();
    const bound = new EventEmitter();
    const unbound = new EventEmitter();
    const finished: Promise<void>[] = [];
    const listen = (emitter: EventEmitter, toolName: string) =>
      finished.push(
        new Promise<void>((resolve) => {
          emitter.on('job', async () => {
            await traceToolCall({ toolName, input: 1 }, () => 1).catch(() => undefined);
            resolve();
          });
        }),
      );
    let runId = '';
    await runWorkflow(RUN, async (run) => {
      runId = run.runId;
      context.bind(context.active(), bound);
      listen(bound, 'bound_listener');
      listen(unbound, 'unbound_listener');
    });
    // Emitted later from a timer outside any run, as a socket or a queue client would.
    setTimeout(() => {
      bound.emit('job');
      unbound.emit('job');
    }, 1);
    await Promise.all(finished);
    await audit.forceFlush();
    const ends = readSegments(ts.storeDir).filter((r) => r.type === 'span.end');
    expect(ends.find((r) => r.tags.tool === 'bound_listener')!.tags.run).toBe(runId);
    const orphan = ends.find((r) => r.tags.tool === 'unbound_listener')!;
    expect(orphan.tags.run).toBeUndefined();
    const attrs = attrsOf(spanOf(orphan));
    expect(attrs['audit.violation']).toEqual(expect.arrayContaining(['no_run_context']));
  });
});
