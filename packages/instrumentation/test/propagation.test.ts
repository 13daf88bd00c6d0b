import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import {
  extractRunContext,
  getRunContext,
  injectRunContext,
  runWorkflow,
  traceToolCall,
  withRemoteRunContext,
} from '../src/index.js';
import { useOtel } from './support/otel.js';

const otel = useOtel();

const orchestrator = {
  agentId: 'orchestrator',
  agentName: 'Orchestrator',
  triggerPrincipal: 'user:456',
  credentialRef: 'cred:orch',
  tenantId: 'acme',
};

describe('run propagation', () => {
  it('injects traceparent and only the allow-listed baggage entries', () => {
    const headers: Record<string, string> = {};
    runWorkflow({ ...orchestrator, runId: 'run-prop-1' }, () => injectRunContext(headers));
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const entries = headers
      .baggage!.split(',')
      .map((e) => e.split('=')[0])
      .sort();
    expect(entries).toEqual(['trigger.principal', 'workflow.run_id']);
    expect(headers.baggage).toContain('workflow.run_id=run-prop-1');
    expect(headers.baggage).toContain('trigger.principal=user%3A456');
    // The tenant, agent and credential reference stay in the process.
    expect(JSON.stringify(headers)).not.toMatch(/acme|cred:orch|orchestrator/);
  });

  it('keeps foreign baggage entries and re-asserts the run entries if user code replaced them', () => {
    const headers: Record<string, string> = {};
    runWorkflow({ ...orchestrator, runId: 'run-prop-2' }, () => {
      const replaced = propagation.setBaggage(
        context.active(),
        propagation.createBaggage({ 'app.feature': { value: 'beta' } }),
      );
      injectRunContext(headers, replaced);
    });
    expect(headers.baggage).toContain('app.feature=beta');
    expect(headers.baggage).toContain('workflow.run_id=run-prop-2');
  });

  it('continues the same trace and run id in a sub-agent, over real HTTP', async () => {
    const server = createServer((req, res) => {
      // The sub-agent side: a fresh process would start from ROOT_CONTEXT, as here.
      context.with(ROOT_CONTEXT, () =>
        withRemoteRunContext(req.headers, async () => {
          const remote = getRunContext();
          const result = await runWorkflow({ agentId: 'sub-agent', agentName: 'Sub' }, () =>
            traceToolCall({ toolName: 'sub.lookup', input: { id: 7 } }, () => ({ found: true })),
          );
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ remote, result }));
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const body = await runWorkflow({ ...orchestrator, runId: 'run-http-1' }, () =>
        traceToolCall({ toolName: 'delegate', input: { task: 'lookup' } }, () => {
          const headers = injectRunContext({} as Record<string, string>);
          return new Promise<string>((resolve, reject) => {
            const req = request({ host: '127.0.0.1', port, path: '/', headers }, (res) => {
              let data = '';
              res.on('data', (c) => {
                data += c;
              });
              res.on('end', () => resolve(data));
            });
            req.on('error', reject);
            req.end();
          });
        }),
      );
      const parsed = JSON.parse(body);
      expect(parsed.remote).toEqual({
        runId: 'run-http-1',
        triggerPrincipal: 'user:456',
        remote: true,
      });
      expect(parsed.result).toEqual({ found: true });
    } finally {
      server.close();
    }
    const delegate = otel.byName('execute_tool delegate');
    const sub = otel.byName('invoke_agent Sub');
    const subTool = otel.byName('execute_tool sub.lookup');
    expect(sub.spanContext().traceId).toBe(delegate.spanContext().traceId);
    expect(sub.parentSpanContext?.spanId).toBe(delegate.spanContext().spanId);
    expect(sub.parentSpanContext?.isRemote).toBe(true);
    for (const s of [sub, subTool]) {
      expect(s.attributes['workflow.run_id']).toBe('run-http-1');
      expect(s.attributes['trigger.principal']).toBe('user:456');
    }
    expect(sub.attributes['trigger.type']).toBe('agent');
    expect(sub.attributes['agent.id']).toBe('sub-agent');
    // A remote parent does not hand over the tenant or the credential reference.
    expect(sub.attributes['credential.ref']).toBeUndefined();
  });

  it('a tool called under a remote run without a local runWorkflow keeps the run but lists agent.id as missing', async () => {
    const headers = runWorkflow({ ...orchestrator, runId: 'run-remote-tool' }, () =>
      injectRunContext({} as Record<string, string>),
    );
    await context.with(ROOT_CONTEXT, () =>
      withRemoteRunContext(headers, () =>
        traceToolCall({ toolName: 'bare.remote', input: {} }, () => 1),
      ),
    );
    const span = otel.byName('execute_tool bare.remote');
    expect(span.attributes['workflow.run_id']).toBe('run-remote-tool');
    expect(span.attributes['audit.violation']).toBeUndefined();
    expect(span.attributes['audit.missing']).toEqual(
      expect.arrayContaining(['agent.id', 'credential.ref']),
    );
  });

  it('a remote run in the headers wins over a stale local run', () => {
    const headers = runWorkflow({ ...orchestrator, runId: 'run-remote' }, () =>
      injectRunContext({} as Record<string, string>),
    );
    runWorkflow({ ...orchestrator, runId: 'run-local' }, () => {
      expect(getRunContext()?.runId).toBe('run-local');
      expect(getRunContext(extractRunContext(headers))?.runId).toBe('run-remote');
    });
  });

  it('reads mixed-case header objects, arrays, and fetch Headers', () => {
    const headers = runWorkflow({ ...orchestrator, runId: 'run-case' }, () =>
      injectRunContext({} as Record<string, string>),
    );
    const mixed = { Traceparent: headers.traceparent!, BAGGAGE: [headers.baggage!] };
    expect(getRunContext(extractRunContext(mixed, ROOT_CONTEXT))?.runId).toBe('run-case');
    const fetchHeaders = new Headers(headers);
    expect(getRunContext(extractRunContext(fetchHeaders, ROOT_CONTEXT))?.runId).toBe('run-case');
    const out = runWorkflow({ ...orchestrator, runId: 'run-fetch' }, () =>
      injectRunContext(new Headers()),
    );
    expect(out.get('baggage')).toContain('workflow.run_id=run-fetch');
    expect(trace.getSpanContext(extractRunContext(out, ROOT_CONTEXT))?.isRemote).toBe(true);
  });

  it('ignores hostile or malformed run baggage', () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    for (const bad of [
      'workflow.run_id=',
      'workflow.run_id=has%20space',
      `workflow.run_id=${'x'.repeat(500)}`,
      'workflow.run_id=%0Aevil',
    ]) {
      const ctx = extractRunContext({ traceparent, baggage: bad }, ROOT_CONTEXT);
      expect(getRunContext(ctx)).toBeUndefined();
    }
    const ctx = extractRunContext(
      { traceparent, baggage: 'workflow.run_id=ok-1,trigger.principal=%0Auser' },
      ROOT_CONTEXT,
    );
    expect(getRunContext(ctx)).toEqual({
      runId: 'ok-1',
      triggerPrincipal: undefined,
      remote: true,
    });
  });
});
