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
}

export function reindexCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return new Command('reindex')
    .description(
      'rebuild the run/principal/agent/tool/time index from the segments (after a lost or damaged index)',
    )
    .action((_options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const location = existingStore(globals, ctx, 'reindex');
      let records: number;
      try {
        records = reindexStore(location.path).records;
      } catch (error) {
        throw storeFailure(error, location);
      }
      const index = join(location.path, 'index.sqlite');
      if (globals.json) {
        const output: ReindexOutput = { index, records };
        ctx.writeOut(`${JSON.stringify(output, null, 2)}\n`);
      } else {
        ctx.writeOut(`reindexed ${records} records of ${location.shown} into ${index}\n`);
      }
    });
}
