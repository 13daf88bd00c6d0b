import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type PolicyHook, runWorkflow } from '@agent-audit/instrumentation';
import {
  AuditTraceProcessor,
  approveToolCall,
  recordInterruptions,
} from '@agent-audit/openai-agents';
import { registerAgentAudit } from '@agent-audit/sdk';
import { RunState, run, setTraceProcessors, setTracingDisabled } from '@openai/agents';
import { bodyRuns, buildSupportDesk } from './agents.js';

const cwd = process.cwd();
const storeDir = resolve(process.env.AGENT_AUDIT_STORE_DIR ?? '.agent-audit-openai-agents');

/** The process-wide gate: closing an account is never the agent's call. */
const policy: PolicyHook = ({ toolName }) =>
  toolName === 'close_customer_account'
    ? {
        outcome: 'stop',
        policyId: 'support-actions',
        policyVersion: '3',
        reason: 'account closure needs a human agent',
      }
    : { outcome: 'allow', policyId: 'support-actions', policyVersion: '3' };

const audit = registerAgentAudit({
  serviceName: 'openai-agents-support-desk',
  storeDir,
  hashKey: { id: 'demo-openai-agents', secret: randomBytes(32).toString('hex') },
  policy,
});

// The SDK's own traces go to the audit trail only (no OpenAI exporter: no network, no key).
setTracingDisabled(false);
setTraceProcessors([new AuditTraceProcessor()]);

async function handle(): Promise<string> {
  const desk = buildSupportDesk();
  return runWorkflow(
    {
      agentId: 'support-desk',
      agentName: 'Support Desk',
      workflowName: 'openai-agents-support',
      model: 'scripted-support-model',
      triggerPrincipal: 'user:456',
      triggerType: 'human',
      credentialRef: 'cred:support-desk:run',
      tenantId: 'tenant-acme',
      input: { ticket: 'T-2001', text: 'My order came late, I want a refund.' },
    },
    async (handle) => {
      const first = await run(desk, 'My order order-5521 came late, I want a refund.');
      // The refund paused the run (needsApproval): the request is recorded, the state is
      // serialized (as a service would store it) and restored before the human decides.
      await recordInterruptions(first);
      const saved = first.state.toString();
      const restored = await RunState.fromString(desk, saved);
      for (const item of restored.getInterruptions()) {
        await approveToolCall(restored, item, {
          approver: 'user:jane.doe',
          note: 'shipping fee only',
        });
      }
      // Resumed as a streamed run.
      const resumed = await run(desk, restored, { stream: true });
      for await (const _event of resumed) {
        // the events stream to the UI here
      }
      await resumed.completed;
      console.log(`final answer: ${String(resumed.finalOutput)}`);
      return handle.runId;
    },
  );
}

async function printTrail(runId: string): Promise<void> {
  // The CLI reads the store with better-sqlite3, built for the Node.js on PATH (20): it runs
  // there, not under this process's Node 22.
  const cli = fileURLToPath(new URL('../../../packages/cli/dist/bin.js', import.meta.url));
  const child = spawn('node', [cli, 'trail', runId, '--store', storeDir], { stdio: 'inherit' });
  await once(child, 'exit');
}

async function main(): Promise<void> {
  const runId = await handle();
  await audit.forceFlush();
  const drained = audit.forwarder
    ? await audit.forwarder.drain({ timeoutMillis: 3_000, retry: false })
    : undefined;
  await audit.shutdown();
  console.log(`tool bodies run: ${JSON.stringify(bodyRuns)}`);
  console.log(`workflow.run_id=${runId}`);
  console.log();
  await printTrail(runId);
  console.log();
  const store = relative(cwd, storeDir) || '.';
  const tags = encodeURIComponent(JSON.stringify({ 'workflow.run_id': runId }));
  const jaegerUi = process.env.JAEGER_UI_URL ?? 'http://localhost:16686';
  const search = `${jaegerUi}/search?service=openai-agents-support-desk&tags=${tags}`;
  if (drained?.ok === true) {
    console.log(`Jaeger: ${search}`);
  } else {
    console.log(
      `Jaeger was not reachable at ${audit.config.otlpEndpoint}: the run is safe in the store; ship it with \`pnpm --silent agent-audit forward --store ${store}\`, then open ${search}`,
    );
  }
  console.log(`Explain it: pnpm --silent agent-audit explain ${runId} --store ${store}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
