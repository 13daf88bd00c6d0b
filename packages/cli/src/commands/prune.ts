import { DEFAULT_TRUST_DIR, type PruneResult, pruneStore, TRUST_DIR_ENV } from '@agent-audit/store';
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_USAGE } from '../cli-error.js';
import { existingStore, type GlobalOptions, trustLocation } from '../global-options.js';
import { parseDurationMs, parseTimePoint } from '../parse-time.js';
import { storeFailure } from '../store-access.js';
import { escapeValue } from '../terminal-text.js';

interface PruneCommandOptions {
  before: string;
  retention?: string;
}

/** `prune --json` output. */
export interface PruneOutput {
  before: string;
  segments: number[];
  prune_seq: number | null;
  first_seq: number | null;
  last_seq: number | null;
}

export function pruneCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return new Command('prune')
    .description(
      'remove whole sealed segments whose records are all older than a date, writing a signed prune record so verify still passes and says what went',
    )
    .requiredOption(
      '--before <time>',
      'an ISO date (2025-01-01) or an age (400d): only segments entirely before it go',
    )
    .option(
      '--retention <duration>',
      'never remove anything younger than this (e.g. 365d), whatever --before says',
    )
    .addHelpText(
      'after',
      '\nPrune opens the store as its writer: stop the agents writing to it first (the store lock says which pid holds it).\n' +
        `The prune record is signed with signing-key.pem of the trust directory ($${TRUST_DIR_ENV} or ${DEFAULT_TRUST_DIR}).`,
    )
    .action(async (options: PruneCommandOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const before = parseTimePoint(options.before, '--before', ctx.now());
      let retentionMs: number | undefined;
      if (options.retention !== undefined) {
        retentionMs = parseDurationMs(options.retention);
        if (retentionMs === undefined) {
          throw new CliError(
            `invalid --retention value "${options.retention}": expected a duration such as 365d, 52w or 8760h`,
            EXIT_USAGE,
          );
        }
      }
      const location = existingStore(globals, ctx, 'prune');
      let result: PruneResult;
      try {
        result = await pruneStore({
          dir: location.path,
          trustDir: trustLocation(ctx).path,
          before,
          ...(retentionMs !== undefined ? { retentionMs } : {}),
        });
      } catch (error) {
        throw storeFailure(error, location);
      }
      if (globals.json) {
        const output: PruneOutput = {
          before: before.toISOString(),
          segments: result.segments,
          prune_seq: result.seq ?? null,
          first_seq: result.firstSeq ?? null,
          last_seq: result.lastSeq ?? null,
        };
        ctx.writeOut(`${JSON.stringify(output, null, 2)}\n`);
      } else if (result.segments.length === 0) {
        ctx.writeOut(
          `nothing to prune in ${escapeValue(location.shown)}: no sealed segment has all its records before ${before.toISOString()}` +
            `${retentionMs !== undefined ? ` and older than --retention ${escapeValue(options.retention ?? '')}` : ''}\n`,
        );
      } else {
        ctx.writeOut(
          `pruned ${result.segments.length} segment(s) of ${escapeValue(location.shown)}: ${result.segments.join(', ')} ` +
            `(seq ${result.firstSeq}–${result.lastSeq}, all before ${before.toISOString()})\n` +
            `signed prune record at seq ${result.seq}; "agent-audit verify" reports it and still verifies the rest\n`,
        );
      }
    });
}
