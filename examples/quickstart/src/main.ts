/**
 * The README demo. An orchestrator agent handles a support ticket: it searches a
 * knowledge base, writes to a database, hands the reply to a drafting sub-agent in a
 * separate process over HTTP, and sends an email. Every step is audited into the WORM
 * store and forwarded to Jaeger when one is running.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { injectRunContext, runWorkflow, traceToolCall } from '@agent-audit/instrumentation';
import { registerAgentAudit } from '@agent-audit/sdk';
import { planTicket, SCRIPTED_MODEL, type Ticket } from './scripted-model.js';
import { HelpdeskTools } from './tools.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const cwd = process.cwd();
const storeDir = resolve(process.env.AGENT_AUDIT_STORE_DIR ?? '.agent-audit');
const subAgentStoreDir = `${storeDir}-drafting-agent`;
const jaegerUi = process.env.JAEGER_UI_URL ?? 'http://localhost:16686';

const audit = registerAgentAudit({ serviceName: 'quickstart-orchestrator', storeDir });

async function startSubAgent(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [join(here, 'sub-agent.js')], {
    env: { ...process.env, AGENT_AUDIT_STORE_DIR: subAgentStoreDir },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const match = /^listening (\d+)$/.exec(line);
    if (match) {
      return {
        url: `http://127.0.0.1:${match[1]}`,
        stop: async () => {
          child.kill('SIGTERM');
          await once(child, 'exit');
        },
      };
    }
  }
  throw new Error('the drafting sub-agent exited before it was ready (see its output above)');
}

async function delegateDraft(url: string, ticket: Ticket, facts: string[]): Promise<string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  injectRunContext(headers);
  const response = await fetch(`${url}/tasks/draft-reply`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ ticketId: ticket.id, subject: ticket.subject, facts }),
  });
  if (!response.ok) throw new Error(`drafting sub-agent answered ${response.status}`);
  const { draft } = (await response.json()) as { draft: string };
  return draft;
}

async function handleTicket(ticket: Ticket, tools: HelpdeskTools, subAgentUrl: string) {
  return runWorkflow(
    {
      agentId: 'support-agent',
      agentName: 'Support Agent',
      agentVersion: '1.4.0',
      model: SCRIPTED_MODEL,
      workflowName: 'resolve-ticket',
      triggerPrincipal: 'user:456',
      triggerType: 'human',
      credentialRef: 'cred:support-agent:run-token-7f3a',
      tenantId: 'tenant-acme',
      input: ticket,
    },
    async (run) => {
      let facts: string[] = [];
      let draft = '';
      for (const step of planTicket(ticket)) {
        switch (step.tool) {
          case 'search_knowledge_base': {
            const found = await traceToolCall(
              { toolName: step.tool, reason: step.reason, input: step.input },
              async () => tools.searchKnowledgeBase(step.input.query),
            );
            facts = found.articles.map((a) => `see ${a.id} (${a.title})`);
            break;
          }
          case 'update_ticket':
            await traceToolCall(
              {
                toolName: step.tool,
                reason: step.reason,
                input: step.input,
                credentialRef: 'cred:helpdesk-db:writer',
              },
              async () => tools.updateTicket(step.input.ticketId, step.input.status),
            );
            break;
          case 'delegate_draft_reply':
            draft = await traceToolCall(
              { toolName: step.tool, reason: step.reason, input: { ...step.input, facts } },
              () => delegateDraft(subAgentUrl, ticket, facts),
            );
            break;
          case 'send_email':
            await traceToolCall(
              {
                toolName: step.tool,
                reason: step.reason,
                input: { ...step.input, body: draft },
                credentialRef: 'cred:smtp:support-outbound',
              },
              async () => tools.sendEmail(step.input.to, step.input.subject, draft),
            );
            break;
        }
      }
      return run.runId;
    },
  );
}

/**
 * Did the forwarder get every stored span of this process to the OTLP endpoint? One pass
 * with a short deadline: with no Jaeger running the demo must not hang, the store keeps it.
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
  const child = spawn(
    process.execPath,
    [cli, 'trail', runId, '--store', storeDir, '--store', subAgentStoreDir],
    { stdio: 'inherit' },
  );
  await once(child, 'exit');
}

async function main(): Promise<void> {
  const tools = new HelpdeskTools(join(cwd, '.agent-audit-demo'));
  const subAgent = await startSubAgent();
  const ticket: Ticket = {
    id: 'T-1042',
    customerId: 'cust-88',
    subject: 'Two-factor codes not arriving',
    body: 'I have not received a login code since yesterday.',
  };
  let runId: string;
  try {
    runId = await handleTicket(ticket, tools, subAgent.url);
  } finally {
    await subAgent.stop();
    tools.close();
  }
  const forwarded = await forwardedEverything();
  await audit.shutdown();

  console.log(`workflow.run_id=${runId}`);
  console.log();
  await printTrail(runId);
  console.log();
  const tags = encodeURIComponent(JSON.stringify({ 'workflow.run_id': runId }));
  const search = `${jaegerUi}/search?service=quickstart-orchestrator&tags=${tags}`;
  const stores = `--store ${relative(cwd, storeDir)} --store ${relative(cwd, subAgentStoreDir)}`;
  if (forwarded.ok) {
    console.log(`Jaeger: ${search}`);
  } else {
    console.log(
      `Jaeger was not reachable at ${forwarded.endpoint} (${forwarded.error}): the run is safe in the stores.`,
    );
    console.log(
      `Start Jaeger (docker compose up -d), ship the run with \`pnpm --silent agent-audit forward ${stores}\`, then open:`,
    );
    console.log(`  ${search}`);
  }
  console.log(`Verify the stores: pnpm --silent agent-audit verify ${stores}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
