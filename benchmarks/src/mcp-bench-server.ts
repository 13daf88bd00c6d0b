/**
 * The MCP server of `node benchmarks/dist/run.js mcp`, one process per arm, over stdio.
 * argv[2] `audited`: registerAgentAudit (its own store, AGENT_AUDIT_STORE_DIR) and
 * auditMcpServer; `signed`: the same, verifying the caller's signed run context
 * (AGENT_AUDIT_BENCH_TRUSTED_KEY, SPKI PEM); `plain`: the same McpServer and tool, nothing else.
 */
import { auditMcpServer } from '@agent-audit/mcp';
import { registerAgentAudit } from '@agent-audit/sdk';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const audited = process.argv[2] === 'audited' || process.argv[2] === 'signed';
// `signed`: the server verifies the caller's signed run context (its public key from the env).
const trustedKey = process.env.AGENT_AUDIT_BENCH_TRUSTED_KEY;
const audit = audited
  ? registerAgentAudit({
      serviceName: 'bench-mcp-server',
      forward: false,
      ...(process.argv[2] === 'signed' && trustedKey !== undefined
        ? { runContextTrust: { audience: 'bench-mcp', trustedKeys: [trustedKey] } }
        : {}),
    })
  : undefined;
const server = new McpServer({ name: 'bench', version: '1.0.0' });
if (audited) auditMcpServer(server, { credentialRef: 'cred:bench-server' });
server.registerTool(
  'search',
  {
    inputSchema: { query: z.string(), page: z.number(), filters: z.record(z.string(), z.string()) },
  },
  async ({ query, page }) => ({ content: [{ type: 'text', text: `${query}:${page}: 3 hits` }] }),
);
await server.connect(new StdioServerTransport());
process.stdin.on('end', () => {
  void (audit?.shutdown() ?? Promise.resolve()).finally(() => process.exit(0));
});
