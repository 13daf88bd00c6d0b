// `node --import @agent-audit/sdk/register app.js`: registers before the application's first
// import, configured from the environment alone (AGENT_AUDIT_*, OTEL_*).
import { registerAgentAudit } from './register-agent-audit.js';

registerAgentAudit();
