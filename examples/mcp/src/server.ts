/**
 * The helpdesk MCP server: a separate process, spoken to over stdio. Every tool call continues
 * the agent's trace and run from the request's `_meta` and is audited into this process's own
 * store (AGENT_AUDIT_STORE_DIR, set by the agent).
 */
import { auditMcpServer } from '@agent-audit/mcp';
import { registerAgentAudit } from '@agent-audit/sdk';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

// The agent hands over its hashing key so that input hashes compare across the processes.
const [hashKeyId, hashKeySecret] = (process.env.MCP_DEMO_HASH_KEY ?? '').split(':');
const audit = registerAgentAudit({
  serviceName: 'mcp-demo-helpdesk-server',
  ...(hashKeyId && hashKeySecret ? { hashKey: { id: hashKeyId, secret: hashKeySecret } } : {}),
});

const orders: Record<string, { status: string; amount: number }> = {
  'order-5521': { status: 'delivered', amount: 129 },
};

const server = new McpServer({ name: 'helpdesk', version: '1.0.0' });
auditMcpServer(server, { credentialRef: 'cred:helpdesk-db:mcp-server' });

server.registerTool(
  'lookup_order',
  { description: 'Look an order up by id', inputSchema: { orderId: z.string() } },
  async ({ orderId }) => {
    const order = orders[orderId];
    if (!order) return { isError: true, content: [{ type: 'text', text: `no order ${orderId}` }] };
    return { content: [{ type: 'text', text: JSON.stringify({ orderId, ...order }) }] };
  },
);
server.registerTool(
  'issue_refund',
  {
    description: 'Refund an order, up to its amount',
    inputSchema: { orderId: z.string(), amount: z.number() },
  },
  async ({ orderId, amount }) => ({
    content: [{ type: 'text', text: JSON.stringify({ refundId: `rf-${orderId}`, amount }) }],
  }),
);
server.registerTool(
  'close_customer_account',
  { description: 'Close an account for good', inputSchema: { customerId: z.string() } },
  async () => ({ content: [{ type: 'text', text: 'closed' }] }),
);
server.registerResource(
  'refund-policy',
  'doc://policies/refunds',
  { description: 'The refund policy the agent must follow', mimeType: 'text/plain' },
  async (uri) => ({
    contents: [{ uri: uri.href, text: 'Refunds up to the order amount within 30 days.' }],
  }),
);

await server.connect(new StdioServerTransport());
// The agent closing stdin ends the session: make the store final and leave.
process.stdin.on('end', () => {
  audit.shutdown().finally(() => process.exit(0));
});
