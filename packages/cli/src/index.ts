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
export { createProgram, runCli } from './program.js';
export type { TrailSpan } from './trail-span.js';
