import { Watcher } from '@agent-audit/watch';
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_IO } from '../cli-error.js';
import type { GlobalOptions } from '../global-options.js';
import { watchConfigOf } from '../watch-options.js';

interface WatchOptions {
  config?: string;
  once?: boolean;
}

export function watchCommand(ctx: CliContext, setExitCode: (code: number) => void): Command {
  return new Command('watch')
    .description(
      "follow the stores as records become durable: alert on the five anomaly patterns of tool use and on policy stops, append each alert to the watcher's own signed store and deliver it to the configured sinks (stdout, webhook, Slack)",
    )
    .option(
      '--config <file>',
      'watch configuration (YAML; default ./agent-audit-watch.yaml, see packages/watch/README.md)',
    )
    .option(
      '--once',
      'process every durable record once, deliver, and exit (exit 1 if a sink could not take an alert)',
    )
    .action(async (options: WatchOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const config = watchConfigOf(options.config, globals, ctx);
      let watcher: Watcher;
      try {
        watcher = new Watcher(config, {
          writeOut: (text) => ctx.writeOut(text),
          writeErr: (text) => ctx.writeErr(text),
          json: globals.json === true,
          env: ctx.env,
        });
      } catch (error) {
        throw new CliError(`cannot start the watcher: ${(error as Error).message}`, EXIT_IO);
      }
      try {
        if (options.once) {
          await watcher.runOnce();
          if (watcher.undelivered) setExitCode(1);
          return;
        }
        const stop = () => watcher.stop();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        ctx.writeErr(
          `agent-audit watch: following ${config.stores.map((s) => s.dir).join(', ')}; alerts in ${config.alertsDir} (Ctrl-C stops)\n`,
        );
        try {
          await watcher.run();
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      } finally {
        await watcher.close();
      }
    });
}
