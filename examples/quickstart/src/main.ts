import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  createTokenIssuer,
  generateTokenKeyPair,
  recordTokenIssued,
} from '@agent-audit/credentials';
import {
  ApprovalRequiredError,
  injectRunContext,
  PolicyStopError,
  RUN_EVENT_RETRIEVAL_COMPLETED,
  recordApproval,
  recordInputResolved,
  recordPolicyChange,
  recordRunEvent,
  recordSideEffect,
  recordValidation,
  runWorkflow,
  traceLlmCall,
  traceToolCall,
} from '@agent-audit/instrumentation';
import { registerAgentAudit } from '@agent-audit/sdk';
import {
  GATEWAY_AUDIENCE,
  type HelpdeskApi,
  KB_READ_SCOPE,
  startHelpdeskApi,
} from './helpdesk-api.js';
import { SUPPORT_POLICY, SUPPORT_POLICY_VERSION, supportPolicy } from './policy.js';
import {
  PLANNER_PROMPT_VERSION,
  PLANNER_SYSTEM_PROMPT,
  type PlannedStep,
  planTicket,
  SCRIPTED_MODEL,
  SCRIPTED_PROVIDER,
  type Ticket,
} from './scripted-model.js';
import { HelpdeskTools } from './tools.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const cwd = process.cwd();
const storeDir = resolve(process.env.AGENT_AUDIT_STORE_DIR ?? '.agent-audit');
const subAgentStoreDir = `${storeDir}-drafting-agent`;
const gatewayStoreDir = `${storeDir}-gateway`;
const trustDir = resolve(process.env.AGENT_AUDIT_TRUST_DIR ?? '.agent-audit-trust');
const cliPath = fileURLToPath(new URL('../../../packages/cli/dist/bin.js', import.meta.url));
const jaegerUi = process.env.JAEGER_UI_URL ?? 'http://localhost:16686';

// Keyed hashing (HMAC) for input hashes and credential references: a per-tenant key that
// never leaves these processes. The demo makes a fresh one; a deployment loads it from its
// secret manager. The sub-agent gets the same key so that hashes compare across processes.
const hashKey = { id: 'demo-tenant-acme', secret: randomBytes(32).toString('hex') };

// Run tokens: the issuer signs a short-lived token per run; the gateway trusts its public key.
// A deployment keeps the private key in its secret manager (`agent-audit keygen`).
const tokenKeys = generateTokenKeyPair();
const tokenIssuer = createTokenIssuer({ privateKey: tokenKeys.privateKeyPem });

// Signed run context: this process signs the run it hands to the sub-agent, which adopts the
// run and principal only from a context signed with this key (anything else is "claimed").
const RUN_CONTEXT_AUDIENCE = 'quickstart-agents';
const runContextKeys = generateKeyPairSync('ed25519');
const runContextPublicKeyPem = runContextKeys.publicKey
  .export({ type: 'spki', format: 'pem' })
  .toString();

// The policy gate of the process: it decides every tool call below (none brings its own).
const audit = registerAgentAudit({
  serviceName: 'quickstart-orchestrator',
  storeDir,
  hashKey,
  policy: supportPolicy,
  runContextTrust: { audience: RUN_CONTEXT_AUDIENCE, signingKey: runContextKeys.privateKey },
});

async function startSubAgent(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [join(here, 'sub-agent.js')], {
    env: {
      ...process.env,
      AGENT_AUDIT_STORE_DIR: subAgentStoreDir,
      QUICKSTART_HASH_KEY: `${hashKey.id}:${hashKey.secret}`,
      QUICKSTART_RUN_CONTEXT_AUDIENCE: RUN_CONTEXT_AUDIENCE,
      QUICKSTART_RUN_CONTEXT_PUBLIC_KEY: runContextPublicKeyPem,
    },
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

/**
 * What anyone on the network can send: a run id and a principal in W3C baggage, with no signed
 * context. The sub-agent records it as claimed, in a run of its own, and answers with that run.
 */
async function sendForgedContext(url: string, victimRunId: string): Promise<string> {
  const traceId = randomBytes(16).toString('hex');
  const response = await fetch(`${url}/tasks/draft-reply`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
      baggage: `workflow.run_id=${victimRunId},trigger.principal=user:mallory`,
    },
    body: JSON.stringify({ ticketId: 'T-1042', subject: 'forged', facts: [] }),
  });
  if (!response.ok) throw new Error(`drafting sub-agent answered ${response.status}`);
  const { runId } = (await response.json()) as { runId: string };
  return runId;
}

/** The knowledge-base search, over HTTP through the gateway, with the run token only. */
async function searchKnowledgeBase(
  api: HelpdeskApi,
  runToken: string,
  query: string,
): Promise<{ articles: { id: string; title: string }[] }> {
  // The run's trace context (and signed run context) go along: the gateway records the call
  // in this run's trace.
  const headers: Record<string, string> = { authorization: `Bearer ${runToken}` };
  injectRunContext(headers);
  const response = await fetch(
    `${api.gatewayUrl}/helpdesk/kb/search?q=${encodeURIComponent(query)}`,
    { headers },
  );
  if (!response.ok)
    throw new Error(`the helpdesk API (via the gateway) answered ${response.status}`);
  return (await response.json()) as { articles: { id: string; title: string }[] };
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

/** The planner's LLM call, recorded with the GenAI names: model, tokens, prompt hash and version. */
async function plan(ticket: Ticket): Promise<PlannedStep[]> {
  return traceLlmCall(
    {
      model: SCRIPTED_MODEL,
      provider: SCRIPTED_PROVIDER,
      prompt: `${ticket.subject}\n\n${ticket.body}`,
      systemPrompt: PLANNER_SYSTEM_PROMPT,
      promptVersion: PLANNER_PROMPT_VERSION,
    },
    async (call) => {
      const { steps, usage } = planTicket(ticket);
      call.setResponse({
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        finishReasons: ['tool_calls'],
        toolCalls: steps.map((s) => ({ name: s.tool })),
      });
      return steps;
    },
  );
}

/** A refund goes through the policy; above the limit a named human approves, with an edit. */
async function refund(
  tools: HelpdeskTools,
  step: Extract<PlannedStep, { tool: 'issue_refund' }>,
): Promise<void> {
  const run = async (
    input: { orderId: string; amount: number },
    approval?: ReturnType<typeof recordApproval>,
  ) =>
    traceToolCall(
      {
        toolName: step.tool,
        reason: step.reason,
        input,
        credentialRef: 'cred:payments:refunds-writer',
        ...(approval ? { approval } : {}),
      },
      async () => {
        const idempotencyKey = `refund:${input.orderId}`;
        const result = tools.issueRefund(input.orderId, input.amount, idempotencyKey);
        recordSideEffect({
          targetSystem: 'sqlite:helpdesk.refunds',
          operation: 'insert',
          objectId: result.refundId,
          idempotencyKey,
          result,
        });
        return result;
      },
    );
  // The refund is checked against the plan's price before anyone acts on it.
  const withinPrice = step.input.amount <= MONTHLY_PRICE;
  recordValidation({
    name: 'refund:within-monthly-price',
    passed: withinPrice,
    subject: step.input,
    ...(withinPrice
      ? {}
      : { reason: `amount ${step.input.amount} exceeds the monthly price ${MONTHLY_PRICE}` }),
  });
  try {
    await run(step.input);
  } catch (error) {
    if (!(error instanceof ApprovalRequiredError)) throw error;
    // A person on the payments team sees the proposed refund and lowers it to the plan's cap.
    const receipt = recordApproval(error.request, {
      approver: 'user:jane.doe',
      decision: 'approved',
      approvedInput: { ...step.input, amount: MONTHLY_PRICE },
      note: 'capped at the monthly price',
    });
    await run(receipt.approvedInput as { orderId: string; amount: number }, receipt);
  }
}

const MONTHLY_PRICE = 100;

async function handleTicket(
  ticket: Ticket,
  tools: HelpdeskTools,
  subAgentUrl: string,
  api: HelpdeskApi,
) {
  // A short-lived token scoped to this run and to what it needs; only its public reference
  // (aat_…) is ever recorded or logged. The agent's HTTP calls carry the token, the gateway
  // swaps in the real API key.
  const runId = randomUUID();
  const issued = tokenIssuer.issue({
    runId,
    agentId: 'support-agent',
    principal: 'user:456',
    tenantId: 'tenant-acme',
    scopes: [KB_READ_SCOPE],
    audience: GATEWAY_AUDIENCE,
    ttlSeconds: 900,
  });
  const runCredential = issued.ref;
  return runWorkflow(
    {
      runId,
      agentId: 'support-agent',
      agentName: 'Support Agent',
      agentVersion: '1.4.0',
      model: SCRIPTED_MODEL,
      workflowName: 'resolve-ticket',
      triggerPrincipal: 'user:456',
      triggerType: 'human',
      credentialRef: runCredential,
      tenantId: 'tenant-acme',
      input: ticket,
    },
    async (run) => {
      // The operator's rollout of the policy version this run is decided by.
      recordPolicyChange({
        actor: 'user:ops-anna',
        policyId: SUPPORT_POLICY,
        policyVersion: SUPPORT_POLICY_VERSION,
        change: { refundLimit: 50, accountClosure: 'stop' },
        note: 'refunds above 50 need a human',
      });
      recordTokenIssued(issued);
      let facts: string[] = [];
      let draft = '';
      // What the run acts on: the ticket as the helpdesk holds it, by reference and hash.
      recordInputResolved({
        sources: [{ ref: `helpdesk:ticket/${ticket.id}`, type: 'record', content: ticket }],
      });
      for (const step of await plan(ticket)) {
        switch (step.tool) {
          case 'search_knowledge_base': {
            const found = await traceToolCall(
              {
                toolName: step.tool,
                reason: step.reason,
                input: step.input,
              },
              () => searchKnowledgeBase(api, issued.token, step.input.query),
            );
            recordRunEvent(RUN_EVENT_RETRIEVAL_COMPLETED, {
              targetType: 'knowledge_base',
              targetId: 'helpdesk-kb',
              payload: found,
            });
            recordInputResolved({
              sources: found.articles.map((a) => ({
                ref: `kb:${a.id}`,
                type: 'document',
                content: a,
              })),
            });
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
              async () => {
                const result = tools.updateTicket(step.input.ticketId, step.input.status);
                recordSideEffect({
                  targetSystem: 'sqlite:helpdesk.tickets',
                  operation: 'update',
                  objectId: `ticket/${step.input.ticketId}`,
                  result,
                });
                return result;
              },
            );
            break;
          case 'issue_refund':
            await refund(tools, step);
            break;
          case 'close_customer_account':
            try {
              await traceToolCall(
                {
                  toolName: step.tool,
                  reason: step.reason,
                  input: step.input,
                  // Had it run, it would have changed the accounts table: side_effect.blocked.
                  sideEffect: { operation: 'close', targetSystem: 'sqlite:helpdesk.accounts' },
                },
                async () => tools.closeCustomerAccount(step.input.customerId),
              );
            } catch (error) {
              // The policy stopped it before the tool ran; the agent carries on without it.
              if (!(error instanceof PolicyStopError)) throw error;
            }
            break;
          case 'delegate_draft_reply':
            draft = await traceToolCall(
              {
                toolName: step.tool,
                reason: step.reason,
                input: { ...step.input, facts },
              },
              () => delegateDraft(subAgentUrl, ticket, facts),
            );
            break;
          case 'send_email':
            // The reply goes out only if it carries no internal notes.
            recordValidation({
              name: 'reply:no-internal-notes',
              passed: !/internal/i.test(draft),
              subject: draft,
            });
            await traceToolCall(
              {
                toolName: step.tool,
                reason: step.reason,
                input: { ...step.input, body: draft },
                credentialRef: 'cred:smtp:support-outbound',
              },
              async () => {
                const sent = tools.sendEmail(step.input.to, step.input.subject, draft);
                recordSideEffect({
                  targetSystem: 'smtp:support-outbound',
                  operation: 'send',
                  objectId: sent.messageId,
                  idempotencyKey: `reply:${ticket.id}`,
                  result: sent,
                });
                return sent;
              },
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
  const child = spawn(
    process.execPath,
    [
      cliPath,
      'trail',
      runId,
      '--store',
      storeDir,
      '--store',
      subAgentStoreDir,
      '--store',
      gatewayStoreDir,
    ],
    { stdio: 'inherit' },
  );
  await once(child, 'exit');
}

async function main(): Promise<void> {
  const tools = new HelpdeskTools(join(cwd, '.agent-audit-demo'));
  const subAgent = await startSubAgent();
  const demoDir = join(cwd, '.agent-audit-demo');
  const api = await startHelpdeskApi({
    workDir: join(demoDir, 'helpdesk-api'),
    cliPath,
    issuerPublicKeyPem: tokenKeys.publicKeyPem,
    gatewayStoreDir,
    gatewayTrustDir: `${trustDir}-gateway`,
    search: (query) => tools.searchKnowledgeBase(query),
  });
  const ticket: Ticket = {
    id: 'T-1042',
    customerId: 'cust-88',
    orderId: 'order-5521',
    subject: 'Two-factor codes not arriving',
    body: 'No login code since yesterday and I was charged for the month. Close my account.',
  };
  let runId: string;
  let forgedRunId: string;
  try {
    runId = await handleTicket(ticket, tools, subAgent.url, api);
    // An adversary's one request: the run's id and a principal it made up, unsigned.
    forgedRunId = await sendForgedContext(subAgent.url, runId);
  } finally {
    await subAgent.stop();
    await api.stop();
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
  const stores = `--store ${relative(cwd, storeDir)} --store ${relative(cwd, subAgentStoreDir)} --store ${relative(cwd, gatewayStoreDir)}`;
  const accessLine = readFileSync(api.accessLog, 'utf8').trim().split('\n').at(-1) ?? '';
  const ref = /credential_ref=(aat_[a-z2-7]+)/.exec(accessLine)?.[1] ?? '-';
  console.log(`The helpdesk API's access log: ${relative(cwd, api.accessLog)}`);
  console.log(`  ${accessLine}`);
  console.log(
    `From that reference back to the run: pnpm --silent agent-audit whois ${ref} ${stores}`,
  );
  console.log(
    `A forged run context (unsigned, principal user:mallory) was recorded as claimed, not adopted, in run ${forgedRunId}:`,
  );
  console.log(`  pnpm --silent agent-audit explain ${forgedRunId} ${stores}`);
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
  const ownStores = `--store ${relative(cwd, storeDir)} --store ${relative(cwd, subAgentStoreDir)}`;
  console.log(`Verify the stores: pnpm --silent agent-audit verify ${ownStores}`);
  console.log(
    `  and the gateway's: AGENT_AUDIT_TRUST_DIR=${relative(cwd, `${trustDir}-gateway`)} pnpm --silent agent-audit verify --store ${relative(cwd, gatewayStoreDir)}`,
  );
  console.log(
    `Open the audit console: pnpm --silent agent-audit console ${stores}   (then http://127.0.0.1:7600/runs/${runId})`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
