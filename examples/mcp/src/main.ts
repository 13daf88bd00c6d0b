/**
 * pnpm demo:mcp — an agent that uses an MCP server in another process (stdio), both audited
 * into their own stores: one trace and one workflow.run_id across both, every tool call with
 * its decision record. No network, no key.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type PolicyHook, runWorkflow } from '@agent-audit/instrumentation';
import { auditMcpClient } from '@agent-audit/mcp';
import { registerAgentAudit } from '@agent-audit/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const cwd = process.cwd();
const storeDir = resolve(process.env.AGENT_AUDIT_STORE_DIR ?? '.agent-audit');
const serverStoreDir = `${storeDir}-mcp-server`;
const hashKey = { id: 'demo-mcp', secret: randomBytes(32).toString('hex') };

/** The agent's guard rails: refunds up to 200, never an account closure without a human. */
const policy: PolicyHook = (action) => {
  if (action.toolName === 'close_customer_account') {
    return {
      outcome: 'stop',
      policyId: 'support-guardrails',
      reason: 'account closure needs a human',
    };
  }
  const amount = (action.input as { amount?: number } | undefined)?.amount ?? 0;
  if (action.toolName === 'issue_refund' && amount > 200) {
    return { outcome: 'stop', policyId: 'support-guardrails', reason: 'refund above 200' };
  }
  return { outcome: 'allow', policyId: 'support-guardrails' };
};

// Registered once for the process: it decides every audited tool call, the MCP ones included.
const audit = registerAgentAudit({ serviceName: 'mcp-demo-agent', storeDir, hashKey, policy });

type ToolResult = { isError?: boolean; content: { type: string; text?: string }[] };
const text = (r: unknown) => (r as ToolResult).content.map((c) => c.text ?? '').join('');

async function main(): Promise<void> {
  const client = auditMcpClient(new Client({ name: 'support-agent', version: '1.4.0' }), {
    // What each tool would change: a stopped call records `side_effect.blocked` with it.
    sideEffect: (tool) =>
      tool === 'close_customer_account'
        ? { operation: 'delete', targetSystem: 'helpdesk:accounts' }
        : tool === 'issue_refund'
          ? { operation: 'insert', targetSystem: 'helpdesk:refunds' }
          : undefined,
  });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [fileURLToPath(new URL('./server.js', import.meta.url))],
      env: {
        ...(process.env as Record<string, string>),
        AGENT_AUDIT_STORE_DIR: serverStoreDir,
        MCP_DEMO_HASH_KEY: `${hashKey.id}:${hashKey.secret}`,
      },
      stderr: 'inherit',
    }),
  );

  const runId = await runWorkflow(
    {
      agentId: 'support-agent',
      agentName: 'Support Agent',
      agentVersion: '1.4.0',
      workflowName: 'refund-request',
      triggerPrincipal: 'user:456',
      triggerType: 'human',
      credentialRef: 'cred:support-agent:run',
      input: { ticket: 'T-2001', orderId: 'order-5521' },
    },
    async (run) => {
      const policyDoc = await client.readResource({ uri: 'doc://policies/refunds' });
      console.log(`read ${policyDoc.contents.length} policy document(s)`);
      const order = await client.callTool({
        name: 'lookup_order',
        arguments: { orderId: 'order-5521' },
      });
      console.log(`lookup_order → ${text(order)}`);
      const refund = await client.callTool({
        name: 'issue_refund',
        arguments: { orderId: 'order-5521', amount: 129 },
      });
      console.log(`issue_refund → ${text(refund)}`);
      // Stopped by the policy before the request is sent: the agent gets an MCP tool error.
      const closed = await client.callTool({
        name: 'close_customer_account',
        arguments: { customerId: 'cust-88' },
      });
      console.log(
        `close_customer_account → ${(closed as ToolResult).isError ? 'refused: ' : ''}${text(closed)}`,
      );
      return run.runId;
    },
  );
  await client.close();
  await audit.shutdown();

  console.log();
  console.log(`workflow.run_id=${runId}`);
  console.log();
  const cli = fileURLToPath(new URL('../../../packages/cli/dist/bin.js', import.meta.url));
  const trail = spawn(
    process.execPath,
    [cli, 'trail', runId, '--store', storeDir, '--store', serverStoreDir],
    { stdio: 'inherit' },
  );
  await once(trail, 'exit');
  const stores = `--store ${relative(cwd, storeDir)} --store ${relative(cwd, serverStoreDir)}`;
  console.log();
  console.log(`Verify the stores: pnpm --silent agent-audit verify ${stores}`);
  console.log(`Ship them to Jaeger: pnpm --silent agent-audit forward ${stores}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
