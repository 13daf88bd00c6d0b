/**
 * The drafting sub-agent: a separate process, reached over HTTP. It continues the caller's
 * trace and workflow run (W3C traceparent + the allow-listed baggage entries) only when the
 * caller's signed run context verifies against the orchestrator's key; a context anyone could
 * have written is recorded as claimed and handled in a run of its own. Its tool calls are
 * audited into its own store.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { runWorkflow, traceToolCall, withRemoteRunContext } from '@agent-audit/instrumentation';
import { registerAgentAudit } from '@agent-audit/sdk';

// The orchestrator hands over its hashing key so that input hashes compare across processes.
const [hashKeyId, hashKeySecret] = (process.env.QUICKSTART_HASH_KEY ?? '').split(':');
const trustedKey = process.env.QUICKSTART_RUN_CONTEXT_PUBLIC_KEY;
const audit = registerAgentAudit({
  serviceName: 'quickstart-drafting-agent',
  ...(hashKeyId && hashKeySecret ? { hashKey: { id: hashKeyId, secret: hashKeySecret } } : {}),
  ...(trustedKey
    ? {
        runContextTrust: {
          audience: process.env.QUICKSTART_RUN_CONTEXT_AUDIENCE ?? 'quickstart-agents',
          trustedKeys: [trustedKey],
        },
      }
    : {}),
});

interface DraftRequest {
  ticketId: string;
  subject: string;
  facts: string[];
}

async function readJson(req: IncomingMessage): Promise<DraftRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as DraftRequest;
}

async function draftReply(task: DraftRequest): Promise<{ draft: string; runId: string }> {
  return runWorkflow(
    {
      agentId: 'drafting-agent',
      agentName: 'Drafting Agent',
      agentVersion: '0.3.0',
      model: 'scripted-writer-1',
      credentialRef: 'cred:drafting-agent:templates-read',
      input: task,
    },
    async (run) => {
      const history = await traceToolCall(
        {
          toolName: 'lookup_customer_history',
          input: { ticketId: task.ticketId },
          reason: 'tone and context of earlier replies',
          credentialRef: 'cred:crm:read-only',
        },
        async () => ({ previousTickets: 2, preferredLanguage: 'en' }),
      );
      const rendered = await traceToolCall(
        {
          toolName: 'render_template',
          input: { template: 'support-reply-v2', facts: task.facts, history },
          reason: 'fill the approved reply template',
        },
        async () => ({
          draft: `Hello,\n\nAbout "${task.subject}": ${task.facts.join('; ') || 'we are on it'}.\n\nThe support team`,
        }),
      );
      return { ...rendered, runId: run.runId };
    },
  );
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/tasks/draft-reply') {
    res.writeHead(404).end();
    return;
  }
  readJson(req)
    .then((task) => withRemoteRunContext(req.headers, () => draftReply(task)))
    .then((result) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
    })
    .catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: String(error) }));
    });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') {
    // The orchestrator reads this line to learn the port.
    process.stdout.write(`listening ${address.port}\n`);
  }
});

process.on('SIGTERM', () => {
  server.close();
  audit.shutdown().finally(() => process.exit(0));
});
