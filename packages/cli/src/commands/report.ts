import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_IO } from '../cli-error.js';
import type { GlobalOptions } from '../global-options.js';
import { renderHtmlReport } from '../html-report.js';
import { addJaegerOptions, loadRun, type RunSourceOptions } from '../load-run.js';
import { explainRun } from '../run-explanation.js';
import { escapeValue } from '../terminal-text.js';

interface ReportOptions extends RunSourceOptions {
  html: string;
}

/** `report --json` output. */
export interface ReportOutput {
  run_id: string;
  file: string;
  bytes: number;
  spans: number;
}

export function reportCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return addJaegerOptions(
    new Command('report')
      .description(
        "write a self-contained HTML page with a run's six answers and timeline, for a reviewer without Jaeger",
      )
      .argument('<run-id>', 'the workflow.run_id of the run'),
  )
    .requiredOption('--html <file>', 'the HTML file to write (replaced if it exists)')
    .addHelpText('after', '\nExit: 0 written · 4 no such run · 3 I/O error')
    .action(async (runId: string, options: ReportOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const spans = await loadRun(runId, options, globals, ctx);
      const html = renderHtmlReport(explainRun(runId, spans), spans, ctx.now());
      const file = isAbsolute(options.html) ? options.html : resolve(ctx.cwd, options.html);
      // Write beside and rename, so a reader never opens a half-written report.
      const temp = `${file}.${process.pid}.tmp`;
      try {
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(temp, html);
        renameSync(temp, file);
      } catch (error) {
        throw new CliError(
          `cannot write report ${escapeValue(options.html)} (${(error as NodeJS.ErrnoException).code ?? error}) — choose a writable path with --html FILE`,
          EXIT_IO,
        );
      }
      const bytes = Buffer.byteLength(html);
      if (globals.json) {
        const output: ReportOutput = { run_id: runId, file, bytes, spans: spans.length };
        ctx.writeOut(`${JSON.stringify(output, null, 2)}\n`);
      } else {
        ctx.writeOut(
          `wrote ${escapeValue(options.html)} (${spans.length} spans, ${bytes} bytes)\n`,
        );
      }
    });
}
