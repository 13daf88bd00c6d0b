import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWorkflow } from '@agent-audit/instrumentation';
import {
  type ApprovalInterrupt,
  auditMiddleware,
  registerAgentAuditCallbacks,
} from '@agent-audit/langchain';
import { registerAgentAudit } from '@agent-audit/sdk';
import { type BaseMessage, HumanMessage } from '@langchain/core/messages';
import {
  Command,
  END,
  MemorySaver,
  MessagesAnnotation,
  START,
  StateGraph,
} from '@langchain/langgraph';
import { ToolNode, toolsCondition } from '@langchain/langgraph/prebuilt';
import { createAgent } from 'langchain';
import { supportPolicy } from './policy.js';
import { researchModel, supportModel } from './scripted-models.js';
import { deleteAccount, ledger, lookupOrder, refundOrder, searchKb } from './tools.js';

const cwd = process.cwd();
const storeDir = resolve(process.env.AGENT_AUDIT_STORE_DIR ?? '.agent-audit');
const jaegerUi = process.env.JAEGER_UI_URL ?? 'http://localhost:16686';

// Keyed hashing for input hashes and approval receipts; a deployment loads the key from its
// secret manager, the demo makes a fresh one.
const hashKey = { id: 'demo-langchain', secret: randomBytes(32).toString('hex') };
// The policy is registered once for the process: every audited tool call is gated by it,
// whichever LangChain hook recorded the call.
const audit = registerAgentAudit({
  serviceName: 'langchain-example',
  storeDir,
  hashKey,
  policy: supportPolicy,
});

// One line for graphs you build yourself (LangGraph's ToolNode, tools called as runnables):
// every LangChain run from here on reports its model and tool calls through the gate.
registerAgentAuditCallbacks();

/** LangGraph's quick-start graph: a model node and the prebuilt ToolNode. */
function researchGraph() {
  const model = researchModel().bindTools([searchKb]);
  return new StateGraph(MessagesAnnotation)
    .addNode('agent', async (state: { messages: BaseMessage[] }) => ({
      messages: [await model.invoke(state.messages)],
    }))
    .addNode('tools', new ToolNode([searchKb]))
    .addEdge(START, 'agent')
    .addConditionalEdges('agent', toolsCondition, ['tools', END])
    .addEdge('tools', 'agent')
    .compile();
}

async function handleTicket(): Promise<string> {
  // createAgent with the middleware: tool calls through wrapToolCall, model calls through
  // wrapModelCall, approval_required as a LangGraph interrupt (needs a checkpointer).
  const agent = createAgent({
    model: supportModel(),
    tools: [lookupOrder, refundOrder, deleteAccount],
    middleware: [
      auditMiddleware({
        // A stopped account deletion is recorded as a blocked side effect.
        sideEffects: { delete_account: { operation: 'delete', targetSystem: 'accounts' } },
      }),
    ],
    checkpointer: new MemorySaver(),
  });
  const thread = { configurable: { thread_id: 'ticket-T-1042' } };

  return runWorkflow(
    {
      agentId: 'support-agent',
      agentName: 'Support',
      agentVersion: '1.0.0',
      workflowName: 'ticket-triage',
      triggerPrincipal: 'user:456',
      triggerType: 'human',
      credentialRef: 'cred:support-agent:run',
      input: { ticketId: 'T-1042' },
    },
    async (run) => {
      const research = await researchGraph().invoke({
        messages: [new HumanMessage('What are the refund limits?')],
      });
      console.error(`research: ${String(research.messages.at(-1)?.content)}`);

      const paused = await agent.invoke(
        { messages: [new HumanMessage('Refund order-5521 and close my account.')] },
        thread,
      );
      const pending = (paused as { __interrupt__?: { value: ApprovalInterrupt }[] })
        .__interrupt__?.[0]?.value;
      if (pending === undefined) throw new Error('expected the refund to wait for approval');
      console.error(
        `approval needed: ${pending.toolName} ${JSON.stringify(pending.input)} (${pending.reason})`,
      );

      // The supervisor approves a smaller refund; the graph resumes from its checkpoint.
      const done = await agent.invoke(
        new Command({
          resume: {
            approver: 'user:supervisor-jane',
            decision: 'approved',
            approvedInput: { orderId: 'order-5521', amount: 200 },
            approvalId: pending.approvalId,
            note: 'approved up to 200',
          },
        }),
        thread,
      );
      console.error(`agent: ${String(done.messages.at(-1)?.content)}`);
      return run.runId;
    },
  );
}

/**
 * Did the forwarder get every stored span to the OTLP endpoint? One pass with a short deadline:
 * with no Jaeger running the demo must not hang; the store keeps the run.
 */
async function forwardedEverything(): Promise<{ ok: boolean; endpoint: string; error?: string }> {
  await audit.forceFlush();
  const endpoint = audit.config.otlpEndpoint;
  if (!audit.forwarder) return { ok: false, endpoint, error: 'forwarding is off' };
  const drained = await audit.forwarder.drain({ timeoutMillis: 3_000, retry: false });
  return drained.ok
    ? { ok: true, endpoint }
    : { ok: false, endpoint, error: drained.reason ?? 'spans still pending' };
}

async function printTrail(runId: string): Promise<void> {
  const cli = fileURLToPath(new URL('../../../packages/cli/dist/bin.js', import.meta.url));
  const child = spawn(process.execPath, [cli, 'trail', runId, '--store', storeDir], {
    stdio: 'inherit',
  });
  await once(child, 'exit');
}

async function main(): Promise<void> {
  const runId = await handleTicket();
  const forwarded = await forwardedEverything();
  await audit.shutdown();
  console.error(
    `tools that ran: ${ledger.map((e) => `${e.tool}${JSON.stringify(e.args)}`).join(', ')}`,
  );
  console.log(`workflow.run_id=${runId}`);
  console.log();
  await printTrail(runId);
  console.log();
  const store = relative(cwd, storeDir) || '.';
  const tags = encodeURIComponent(JSON.stringify({ 'workflow.run_id': runId }));
  const search = `${jaegerUi}/search?service=langchain-example&tags=${tags}`;
  if (forwarded.ok) console.log(`Jaeger: ${search}`);
  else {
    console.log(
      `Jaeger was not reachable at ${forwarded.endpoint} (${forwarded.error}): the run is safe in the store.`,
    );
    console.log(
      `Start Jaeger (docker compose up -d), ship the run with \`pnpm --silent agent-audit forward --store ${store}\`, then open:`,
    );
    console.log(`  ${search}`);
  }
  console.log(`Explain the run: pnpm --silent agent-audit explain ${runId} --store ${store}`);
  console.log(`Verify the store: pnpm --silent agent-audit verify --store ${store}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
