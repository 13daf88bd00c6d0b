/**
 * Everything a command touches outside its arguments, so that the program can be driven by
 * the bin (real process) or by a test (captured streams) in the same way.
 */
export interface CliContext {
  /** Machine output (with `--json`) or the human report. Nothing else goes here. */
  writeOut(text: string): void;
  /** Diagnostics, warnings and progress. */
  writeErr(text: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** True when stderr is a terminal: progress bars are drawn only then. */
  stderrIsTTY: boolean;
  /** Width of stdout when it is a terminal; undefined for a pipe or a file (then $COLUMNS, else 100). */
  stdoutColumns?: number | undefined;
  now(): Date;
}

/** The context of the running process. */
export function processContext(): CliContext {
  return {
    writeOut: (text) => process.stdout.write(text),
    writeErr: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    stderrIsTTY: process.stderr.isTTY === true,
    stdoutColumns: process.stdout.isTTY === true ? process.stdout.columns : undefined,
    now: () => new Date(),
  };
}
