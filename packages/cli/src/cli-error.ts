/** Exit codes of the CLI contract (docs: DESIGN.md "CLI contract"). */
export const EXIT_OK = 0;
/** verify: tampering found. */
export const EXIT_TAMPERED = 1;
/** Usage errors of every command but verify (commander's own code; verify uses EXIT_IO). */
export const EXIT_USAGE = 1;
/** verify: the store could not be fully verified (unsigned tail, no anchor, …). */
export const EXIT_UNVERIFIED = 2;
/** Usage (verify) or I/O error: missing store, unreadable file, bad trust material. */
export const EXIT_IO = 3;
/** trail / explain / report: no such run in the store. */
export const EXIT_NO_SUCH_RUN = 4;

/**
 * An error the user can act on: its message names the file or value at fault and the fix,
 * and it carries the exit code the command ends with. Printed without a stack trace.
 */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT_IO) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
