import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { alertLine, readAlerts } from '@agent-audit/watch';
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_IO } from '../cli-error.js';
import type { GlobalOptions } from '../global-options.js';
import { parseTimePoint } from '../parse-time.js';
import { escapeValue } from '../terminal-text.js';
import { watchConfigOf } from '../watch-options.js';

interface AlertsOptions {
  config?: string;
  since?: string;
}

export function alertsCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return new Command('alerts')
    .description(
      "list the alerts in the watcher's store (verify that store with agent-audit verify --store <alerts dir>)",
    )
    .option(
      '--since <time>',
      'only alerts raised since this time: a duration before now (1h, 7d) or an ISO 8601 date',
    )
    .option(
      '--config <file>',
      'watch configuration naming the alert store (alerts.dir); or give the alert store with --store',
    )
    .action((options: AlertsOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const since = options.since ? parseTimePoint(options.since, '--since', ctx.now()) : undefined;
      const named = globals.store?.[0];
      const path =
        options.config === undefined && named !== undefined
          ? resolve(ctx.cwd, named)
          : watchConfigOf(options.config, {}, ctx).alertsDir;
      if (!existsSync(join(path, 'segments'))) {
        throw new CliError(
          `no alert store at ${path}: start agent-audit watch (it creates it), or name the alert store with --store DIR or --config FILE`,
          EXIT_IO,
        );
      }
      let stored: ReturnType<typeof readAlerts>['alerts'];
      try {
        stored = readAlerts(path, 1, Number.MAX_SAFE_INTEGER).alerts;
      } catch (error) {
        throw new CliError(
          `cannot read the alert store ${path}: ${(error as Error).message}`,
          EXIT_IO,
        );
      }
      const rows = stored.filter((s) => !since || Date.parse(s.time) >= since.getTime());
      if (globals.json) {
        ctx.writeOut(
          `${JSON.stringify(
            rows.map((s) => ({ ...s.alert, alert_seq: s.seq, recorded_at: s.time })),
            null,
            2,
          )}\n`,
        );
        return;
      }
      for (const s of rows) ctx.writeOut(`${s.time} ${escapeValue(alertLine(s.alert))}\n`);
      ctx.writeErr(`${rows.length} alerts in ${path}\n`);
    });
}
