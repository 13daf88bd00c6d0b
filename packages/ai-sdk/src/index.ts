export type { AuditMiddleware, AuditModelOptions, LanguageModelLike } from './audit-model.js';
export { auditMiddleware, auditModel } from './audit-model.js';
export { auditAgent, auditRun } from './audit-run.js';
export type { AuditToolOptions, AuditToolsOptions } from './audit-tools.js';
export { auditTools } from './audit-tools.js';
