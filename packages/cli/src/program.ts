import { DEFAULT_STORE_DIR, STORE_DIR_ENV } from '@agent-audit/store';
import { Command, CommanderError, Option } from 'commander';
import type { CliContext } from './cli-context.js';
import { CliError, EXIT_IO, EXIT_OK } from './cli-error.js';
import { alertsCommand } from './commands/alerts.js';
import { detectCommand } from './commands/detect.js';
import { explainCommand } from './commands/explain.js';
import { forwardCommand } from './commands/forward.js';
import { gatewayCommand } from './commands/gateway.js';
import { keygenCommand } from './commands/keygen.js';
import { pruneCommand } from './commands/prune.js';
import { reindexCommand } from './commands/reindex.js';
import { reportCommand } from './commands/report.js';
import { runsCommand } from './commands/runs.js';
import { statusCommand } from './commands/status.js';
import { trailCommand } from './commands/trail.js';
import { verifyCommand } from './commands/verify.js';
import { watchCommand } from './commands/watch.js';
import { whoisCommand } from './commands/whois.js';
import { collectStore } from './global-options.js';
import { neutralizeOutput } from './terminal-text.js';

const EXIT_CODES_HELP = `
Exit codes:
  verify         0 verified and covered by a trusted checkpoint · 1 tampering found
                 2 cannot fully verify (unsigned tail, no anchor, …) · 3 usage or I/O error
  trail/explain/report/whois
                 0 found · 4 no such run · 3 I/O error (no store, unreadable file, Jaeger down)
  forward        0 everything delivered · 1 not delivered (reason printed) · 3 I/O error
  watch --once   0 done · 1 a sink did not take every alert (they wait in the outbox) · 3 I/O error
  others         0 done · 3 I/O error
  usage errors   1 (verify: 3)`;

/**
 * The `agent-audit` command tree. Commands report failure by throwing CliError (or by
 * returning an exit code through `setExitCode`), never by exiting the process, so the same
 * program runs in the bin and in tests.
 */
export function createProgram(ctx: CliContext, setExitCode: (code: number) => void): Command {
  const program = new Command('agent-audit')
    .description(
      'Inspect and verify the agent-audit WORM store: who ran which agent, which tools it called with which credential, and whether the record is intact.',
    )
    .version('0.1.0')
    .addOption(
      new Option(
        '--store <dir>',
        `audit store directory; repeat it to read a run kept in several stores (one per process) (default: $${STORE_DIR_ENV} or ${DEFAULT_STORE_DIR})`,
      ).argParser(collectStore),
    )
    .option('--json', 'machine-readable output on stdout (nothing else is written to stdout)')
    .configureOutput({
      writeOut: (text) => ctx.writeOut(neutralizeOutput(text)),
      writeErr: (text) => ctx.writeErr(neutralizeOutput(text)),
    })
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(run "agent-audit --help" or "agent-audit <command> --help" for usage)')
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride();

  const commands = [
    trailCommand(ctx, setExitCode),
    verifyCommand(ctx, setExitCode),
    runsCommand(ctx, setExitCode),
    explainCommand(ctx, setExitCode),
    reportCommand(ctx, setExitCode),
    keygenCommand(ctx, setExitCode),
    statusCommand(ctx, setExitCode),
    reindexCommand(ctx, setExitCode),
    pruneCommand(ctx, setExitCode),
    forwardCommand(ctx, setExitCode),
    whoisCommand(ctx, setExitCode),
    gatewayCommand(ctx, setExitCode),
    watchCommand(ctx, setExitCode),
    detectCommand(ctx, setExitCode),
    alertsCommand(ctx, setExitCode),
  ];
  for (const command of commands) {
    // addCommand does not copy the program's output and exit settings (command() would).
    command.copyInheritedSettings(program);
    if (command.name() === 'verify') {
      // The contract gives verify one code for "could not check": usage and I/O alike.
      command.exitOverride((error) => {
        throw new CommanderError(error.exitCode === 0 ? 0 : EXIT_IO, error.code, error.message);
      });
    }
    program.addCommand(command);
  }
  return program;
}

/** Runs one command line (without `node` and the script path) and returns the exit code. */
export async function runCli(args: string[], cliContext: CliContext): Promise<number> {
  let exitCode = EXIT_OK;
  // Commands escape each value they print (terminal-text.ts); this is the last line of defence
  // for anything that slipped through: nothing on stdout can drive the terminal.
  const ctx: CliContext = {
    ...cliContext,
    writeOut: (text) => cliContext.writeOut(neutralizeOutput(text)),
  };
  const program = createProgram(ctx, (code) => {
    exitCode = code;
  });
  if (args.length === 0) {
    program.outputHelp({ error: true });
    return 1;
  }
  try {
    await program.parseAsync(args, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof CliError) {
      ctx.writeErr(`agent-audit: ${neutralizeOutput(error.message)}\n`);
      return error.exitCode;
    }
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    ctx.writeErr(
      `agent-audit: unexpected error (please report it): ${neutralizeOutput(message)}\n`,
    );
    return EXIT_IO;
  }
}
