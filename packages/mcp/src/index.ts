export type { AuditMcpClientOptions } from './audit-mcp-client.js';
export { auditMcpClient } from './audit-mcp-client.js';
export type { AuditMcpServerOptions } from './audit-mcp-server.js';
export { auditMcpServer } from './audit-mcp-server.js';
export type { ExtractedMeta } from './meta-context.js';
export {
  extractMeta,
  injectMeta,
  MAX_BAGGAGE_LENGTH,
  MAX_TRACEPARENT_LENGTH,
  MAX_TRACESTATE_LENGTH,
} from './meta-context.js';
export type { RefusalResult } from './refusal.js';
export { REFUSAL_META_KEY, refusalResult } from './refusal.js';
