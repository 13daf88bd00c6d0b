import { alertLine, detectHistory } from '@agent-audit/watch';
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import type { GlobalOptions } from '../global-options.js';
import { parseTimePoint } from '../parse-time.js';
import { escapeValue } from '../terminal-text.js';
import { watchConfigOf } from '../watch-options.js';

interface DetectOptions {
  config?: string;
  since: string;
}

export function detectCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return new Command('detect')
    .description(
      "run the watcher's detectors over the stores' history (baselines learned along the way; nothing is written): the alerts raised by calls since --since",
    )
    .requiredOption(
      '--since <time>',
      'report alerts of calls since this time: a duration before now (1h, 7d) or an ISO 8601 date',
    )
    .option(
      '--config <file>',
      'watch configuration (thresholds, windows, stores; default ./agent-audit-watch.yaml)',
    )
    .action((options: DetectOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const since = parseTimePoint(options.since, '--since', ctx.now());
      const config = watchConfigOf(options.config, globals, ctx);
      const result = detectHistory(config, since.getTime(), (m) =>
        ctx.writeErr(`agent-audit detect: ${m}\n`),
      );
      if (globals.json) {
        ctx.writeOut(`${JSON.stringify(result.alerts, null, 2)}\n`);
        return;
      }
      for (const alert of result.alerts) ctx.writeOut(`${escapeValue(alertLine(alert))}\n`);
      ctx.writeErr(
        `agent-audit detect: ${result.alerts.length} alerts from ${result.toolCalls} tool calls (${result.records} records) since ${since.toISOString()}\n`,
      );
    });
}
