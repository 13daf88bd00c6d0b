export type { CliContext } from './cli-context.js';
export { processContext } from './cli-context.js';
export {
  CliError,
  EXIT_IO,
  EXIT_NO_SUCH_RUN,
  EXIT_OK,
  EXIT_TAMPERED,
  EXIT_UNVERIFIED,
  EXIT_USAGE,
} from './cli-error.js';
export type { KeygenOutput } from './commands/keygen.js';
export type { PruneOutput } from './commands/prune.js';
export type { ReindexOutput } from './commands/reindex.js';
export type { ReportOutput } from './commands/report.js';
export type { RunAction, RunRow } from './commands/runs.js';
export type { StatusOutput } from './commands/status.js';
export type { TrailOutput } from './commands/trail.js';
export { createProgram, runCli } from './program.js';
export type { RunExplanation } from './run-explanation.js';
export type { TrailSpan } from './trail-span.js';
