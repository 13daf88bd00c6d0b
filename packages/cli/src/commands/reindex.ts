import { join } from 'node:path';
import { reindexStore } from '@agent-audit/store/query';
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { existingStore, type GlobalOptions } from '../global-options.js';
import { storeFailure } from '../store-access.js';

/** `reindex --json` output. */
export interface ReindexOutput {
  index: string;
  records: number;
  /** The file found there was not a usable agent-audit index and was replaced. */
  replaced: boolean;
}

export function reindexCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return new Command('reindex')
    .description(
      'rebuild the run/principal/agent/tool/time index from the segments (after a lost, damaged or foreign index file)',
    )
    .action((_options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const location = existingStore(globals, ctx, 'reindex');
      let result: { records: number; replaced: boolean };
      try {
        result = reindexStore(location.path);
      } catch (error) {
        throw storeFailure(error, location);
      }
      const index = join(location.path, 'index.sqlite');
      if (globals.json) {
        const output: ReindexOutput = { index, ...result };
        ctx.writeOut(`${JSON.stringify(output, null, 2)}\n`);
      } else {
        const replaced = result.replaced
          ? ' (the file there was not a usable index and was replaced)'
          : '';
        ctx.writeOut(
          `reindexed ${result.records} records of ${location.shown} into ${index}${replaced}\n`,
        );
      }
    });
}
