import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { auditModel, auditTools } from '@agent-audit/ai-sdk';
import { runWorkflow } from '@agent-audit/instrumentation';
import { registerAgentAudit } from '@agent-audit/sdk';
import { stepCountIs, ToolLoopAgent } from 'ai';
import { refundPolicy, refundTools, toolLog } from './refund-tools.js';
import { scriptedModel } from './scripted-model.js';

// An AI SDK (ai@6) agent, audited: register once, wrap the tools and the model, run. Every tool
// execution is an audited tool call behind the policy (the refused refund never runs; the
// model sees it as a tool error), every model call an LLM call, the AI SDK's own telemetry on
// beside it.

const cwd = process.cwd();
const storeDir = resolve(process.env.AGENT_AUDIT_STORE_DIR ?? '.agent-audit');
const jaegerUi = process.env.JAEGER_UI_URL ?? 'http://localhost:16686';
const SERVICE = 'ai-sdk-refund-agent';

// Register once: the policy gate decides every audited tool call of the process.
const audit = registerAgentAudit({ serviceName: SERVICE, storeDir, policy: refundPolicy });

const agent = new ToolLoopAgent({
  model: auditModel(scriptedModel()),
  instructions: 'You are a support agent. Refunds above the limit need a human.',
  tools: auditTools(refundTools, {
    tools: { issueRefund: { sideEffect: { operation: 'refund', targetSystem: 'payments' } } },
  }),
  stopWhen: stepCountIs(6),
  experimental_telemetry: { isEnabled: true, functionId: 'refund-agent' },
});

async function printTrail(runId: string): Promise<void> {
  const cli = fileURLToPath(new URL('../../../packages/cli/dist/bin.js', import.meta.url));
  const child = spawn(process.execPath, [cli, 'trail', runId, '--store', storeDir], {
    stdio: 'inherit',
  });
  await once(child, 'exit');
}

/** One forwarding pass with a short deadline: with no Jaeger the store keeps the run. */
async function forwarded(): Promise<boolean> {
  await audit.forceFlush();
  if (!audit.forwarder) return false;
  const drained = await audit.forwarder.drain({ timeoutMillis: 3_000, retry: false });
  return drained.ok;
}

async function main(): Promise<void> {
  const { runId, text } = await runWorkflow(
    {
      agentId: 'refund-agent',
      agentName: 'refund-agent',
      triggerPrincipal: 'user:dana',
      triggerType: 'human',
      credentialRef: 'cred:support-api:refund-agent',
      input: { ticket: 'T-2044' },
    },
    async (run) => {
      const result = await agent.generate({
        prompt: 'Order order-5521 arrived broken: refund it.',
      });
      return { runId: run.runId, text: result.text };
    },
  );
  const shipped = await forwarded();
  await audit.shutdown();

  console.log(`agent: ${text}`);
  console.log(`tools that ran: ${toolLog.join(', ')}`);
  console.log(`workflow.run_id=${runId}`);
  console.log();
  await printTrail(runId);
  console.log();
  const tags = encodeURIComponent(JSON.stringify({ 'workflow.run_id': runId }));
  const search = `${jaegerUi}/search?service=${SERVICE}&tags=${tags}`;
  const store = `--store ${relative(cwd, storeDir)}`;
  if (shipped) console.log(`Jaeger: ${search}`);
  else {
    console.log(
      `Jaeger was not reachable (${audit.config.otlpEndpoint}): the run is safe in the store.`,
    );
    console.log(
      `Ship it later with \`pnpm --silent agent-audit forward ${store}\`, then open ${search}`,
    );
  }
  console.log(`Verify the store: pnpm --silent agent-audit verify ${store}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
