import { runWorkflow, setAuditHooks, traceToolCall } from '@agent-audit/instrumentation';
import { AuditStore } from '@agent-audit/store';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AlwaysOnSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuditSpanProcessor } from '../src/audit-span-processor.js';
import { attrsOf, readSegments, spanOf, type TempStore, tempStore } from './helpers.js';

// A framework's own telemetry next to the audit spans (issue 11 §3): its `execute_tool` and
// `invoke_agent` spans are recorded, never flagged, and its raw prompts and tool arguments are
// removed unless content capture is on. The audit spans are still enforced.
const RUN = {
  agentId: 'support-agent',
  triggerPrincipal: 'user:ann',
  credentialRef: 'cred-ref-run-1',
  input: { ticket: 42 },
};
const SECRET_ARGS = '{"query":"the customer said her PIN is 4711"}';

const contextManager = new AsyncLocalStorageContextManager();
let ts: TempStore;
let store: AuditStore;
let provider: TracerProvider;

beforeAll(() => {
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
});
afterAll(() => {
  context.disable();
});
afterEach(async () => {
  await provider.shutdown();
  await store.close();
  trace.disable();
  setAuditHooks(undefined);
  ts.cleanup();
});

function setup(captureContent: boolean) {
  ts = tempStore();
  store = AuditStore.open({ dir: ts.storeDir, trustDir: ts.trustDir, onNotice: () => undefined });
  const processor = new AuditSpanProcessor({ sink: store, captureContent });
  provider = new TracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [processor] });
  trace.disable();
  trace.setGlobalTracerProvider(provider);
  return processor;
}

/** What @ai-sdk/otel (scope `gen_ai`) records around one tool call, content on by default. */
async function frameworkToolCall() {
  const framework = trace.getTracer('gen_ai', '1.0.0');
  await runWorkflow(RUN, async () => {
    const agent = framework.startSpan('invoke_agent mock-model', {
      attributes: {
        'gen_ai.operation.name': 'invoke_agent',
        'gen_ai.input.messages': '[{"role":"user","content":"what is my PIN"}]',
        'ai.request.headers.authorization': 'Bearer sk-live-abcdefghijklmnop',
      },
    });
    await context.with(trace.setSpan(context.active(), agent), async () => {
      const tool = framework.startSpan('execute_tool kb.search', {
        attributes: {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': 'kb.search',
          'gen_ai.tool.call.arguments': SECRET_ARGS,
        },
      });
      await context.with(trace.setSpan(context.active(), tool), () =>
        traceToolCall({ toolName: 'kb.search', input: JSON.parse(SECRET_ARGS) }, () => 'hit'),
      );
      tool.setAttribute('gen_ai.tool.call.result', '"hit"');
      tool.addEvent('gen_ai.content.prompt', { 'gen_ai.prompt': 'what is my PIN' });
      tool.end();
    });
    agent.setAttribute('gen_ai.output.messages', '[{"role":"assistant","content":"4711"}]');
    agent.end();
  });
}

function ends() {
  return readSegments(ts.storeDir).filter((r) => r.type === 'span.end');
}
function endOf(name: string, scope: string) {
  const found = ends().filter((r) => spanOf(r).name === name);
  const r = found.find((x) => JSON.stringify(x).includes(`"name":"${scope}"`));
  if (r === undefined) throw new Error(`no span ${name} of scope ${scope}`);
  return r;
}

describe('framework spans beside the audit spans', () => {
  it('flags no framework span, records no intent for it, and drops its raw content', async () => {
    const processor = setup(false);
    await frameworkToolCall();
    await processor.forceFlush();

    const bytes = JSON.stringify(readSegments(ts.storeDir));
    expect(bytes).not.toContain('PIN is 4711');
    expect(bytes).not.toContain('what is my PIN');
    expect(bytes).not.toContain('sk-live-abcdefghijklmnop');

    const frameworkTool = attrsOf(spanOf(endOf('execute_tool kb.search', 'gen_ai')));
    expect(frameworkTool['audit.violation']).toBeUndefined();
    expect(frameworkTool['audit.content_dropped']).toEqual(
      expect.arrayContaining([
        'gen_ai.tool.call.arguments',
        'gen_ai.tool.call.result',
        'gen_ai.prompt',
      ]),
    );
    // Run attribution is still stamped on the framework's span.
    expect(typeof frameworkTool['workflow.run_id']).toBe('string');
    const frameworkAgent = attrsOf(spanOf(endOf('invoke_agent mock-model', 'gen_ai')));
    expect(frameworkAgent['audit.violation']).toBeUndefined();
    expect(frameworkAgent['audit.content_dropped']).toEqual(
      expect.arrayContaining([
        'gen_ai.input.messages',
        'ai.request.headers.authorization',
        'gen_ai.output.messages',
      ]),
    );

    // Exactly one audit tool span, with its hash; intent records only for audit spans.
    const audit = ends().filter(
      (r) =>
        spanOf(r).name === 'execute_tool kb.search' &&
        JSON.stringify(r).includes('"name":"@agent-audit/instrumentation"'),
    );
    expect(audit).toHaveLength(1);
    expect(attrsOf(spanOf(audit[0]!))['input.hash']).toMatch(/^sha256:/);
    const starts = readSegments(ts.storeDir).filter((r) => r.type === 'span.start');
    expect(starts.map((r) => (r.payload as { name: string }).name).sort()).toEqual([
      'execute_tool kb.search',
      'invoke_agent',
    ]);
  });

  it('keeps the framework content with captureContent, but never request headers', async () => {
    const processor = setup(true);
    await frameworkToolCall();
    await processor.forceFlush();
    const frameworkTool = attrsOf(spanOf(endOf('execute_tool kb.search', 'gen_ai')));
    expect(frameworkTool['gen_ai.tool.call.arguments']).toBe(SECRET_ARGS);
    const frameworkAgent = attrsOf(spanOf(endOf('invoke_agent mock-model', 'gen_ai')));
    expect(frameworkAgent['audit.content_dropped']).toEqual(['ai.request.headers.authorization']);
    expect(JSON.stringify(readSegments(ts.storeDir))).not.toContain('sk-live-abcdefghijklmnop');
  });

  it('still flags an audit span that misses a mandatory attribute', async () => {
    const processor = setup(false);
    await traceToolCall({ toolName: 'outside', input: 1 }, () => 1);
    await processor.forceFlush();
    const attrs = attrsOf(spanOf(endOf('execute_tool outside', '@agent-audit/instrumentation')));
    expect(attrs['audit.violation']).toEqual(
      expect.arrayContaining(['missing_mandatory_attribute']),
    );
  });
});
