import {
  DEFAULT_TRUST_DIR,
  type PruneResult,
  pruneStore,
  RETENTION_POLICY_ENV,
  type RetentionPolicyInput,
  readRetentionPolicyFile,
  StoreError,
  TRUST_DIR_ENV,
} from '@agent-audit/store';
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_USAGE } from '../cli-error.js';
import { existingStore, type GlobalOptions, trustLocation } from '../global-options.js';
import { parseDurationMs, parseTimePoint } from '../parse-time.js';
import { storeFailure } from '../store-access.js';
import { escapeValue } from '../terminal-text.js';

interface PruneCommandOptions {
  before?: string;
  retention?: string;
  retentionPolicy?: string;
  every?: string;
}

/** `prune --json` output (one line per run with `--every`). */
export interface PruneOutput {
  /** The `--before` limit; null when the recorded policy's maximum age decided. */
  before: string | null;
  segments: number[];
  prune_seq: number | null;
  first_seq: number | null;
  last_seq: number | null;
}

function duration(text: string, option: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms <= 0) {
    throw new CliError(
      `invalid ${option} value "${text}": expected a duration such as 365d, 52w, 8760h or 30m`,
      EXIT_USAGE,
    );
  }
  return ms;
}

/** The policy to record: `--retention-policy FILE`, else `$AGENT_AUDIT_RETENTION_POLICY`. */
function policyOption(
  options: PruneCommandOptions,
  ctx: CliContext,
): RetentionPolicyInput | undefined {
  const file = options.retentionPolicy ?? ctx.env[RETENTION_POLICY_ENV];
  if (file === undefined || file === '') return undefined;
  try {
    return readRetentionPolicyFile(file);
  } catch (error) {
    if (error instanceof StoreError) throw new CliError(escapeValue(error.message), EXIT_USAGE);
    throw error;
  }
}

export function pruneCommand(ctx: CliContext, setExitCode: (code: number) => void): Command {
  return new Command('prune')
    .description(
      'remove whole sealed segments whose records are all older than a date (or past the retention policy recorded in the store), writing a signed prune record so verify still passes and says what went',
    )
    .option(
      '--before <time>',
      "an ISO date (2025-01-01) or an age (400d): only segments entirely before it go; without it, what is past the recorded policy's maximum age goes",
    )
    .option(
      '--retention <duration>',
      'never remove anything younger than this (e.g. 365d), whatever --before says',
    )
    .option(
      '--retention-policy <file>',
      `record this retention policy (JSON {"minAge":"30d","maxAge":"400d","tenants":{…}}) in the store first, if it differs from the recorded one (default $${RETENTION_POLICY_ENV})`,
    )
    .option(
      '--every <duration>',
      'keep running and prune again at this interval (e.g. 1h) until SIGINT/SIGTERM; a failed run is reported on stderr and tried again at the next one',
    )
    .addHelpText(
      'after',
      '\nPrune opens the store as its writer: stop the agents writing to it first (the store lock says which pid holds it),\n' +
        'or let the writer prune itself (registerAgentAudit({ retention, pruneEvery })).\n' +
        "It refuses to remove any segment holding a record younger than its tenant's minimum age in the recorded policy.\n" +
        `The prune record is signed with signing-key.pem of the trust directory ($${TRUST_DIR_ENV} or ${DEFAULT_TRUST_DIR}).`,
    )
    .action(async (options: PruneCommandOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const retentionMs =
        options.retention === undefined ? undefined : duration(options.retention, '--retention');
      const everyMs = options.every === undefined ? undefined : duration(options.every, '--every');
      if (
        everyMs !== undefined &&
        options.before !== undefined &&
        parseDurationMs(options.before) === undefined
      ) {
        throw new CliError(
          `--every needs --before as an age (such as 400d), measured at each run, not the date "${options.before}"`,
          EXIT_USAGE,
        );
      }
      // Validated before the store is touched.
      if (options.before !== undefined) parseTimePoint(options.before, '--before', ctx.now());
      const retention = policyOption(options, ctx);
      const location = existingStore(globals, ctx, 'prune');
      const once = async (): Promise<void> => {
        const now = ctx.now();
        const before =
          options.before === undefined
            ? undefined
            : parseTimePoint(options.before, '--before', now);
        let result: PruneResult;
        try {
          result = await pruneStore({
            dir: location.path,
            trustDir: trustLocation(ctx).path,
            ...(before !== undefined ? { before } : {}),
            ...(retentionMs !== undefined ? { retentionMs } : {}),
            ...(retention !== undefined ? { retention } : {}),
          });
        } catch (error) {
          if (
            error instanceof StoreError &&
            error.code === 'CONFIGURATION' &&
            before === undefined
          ) {
            throw new CliError(
              `nothing tells prune what to remove in ${escapeValue(location.shown)}: give --before, or record a retention policy with a maxAge (--retention-policy FILE)`,
              EXIT_USAGE,
            );
          }
          throw storeFailure(error, location);
        }
        const limit =
          before === undefined
            ? 'past the recorded maximum age'
            : `all before ${before.toISOString()}`;
        if (globals.json) {
          const output: PruneOutput = {
            before: before?.toISOString() ?? null,
            segments: result.segments,
            prune_seq: result.seq ?? null,
            first_seq: result.firstSeq ?? null,
            last_seq: result.lastSeq ?? null,
          };
          ctx.writeOut(`${JSON.stringify(output, null, everyMs === undefined ? 2 : undefined)}\n`);
        } else if (result.segments.length === 0) {
          ctx.writeOut(
            `nothing to prune in ${escapeValue(location.shown)}: no sealed segment has all its records ${before === undefined ? 'past the recorded maximum age' : `before ${before.toISOString()}`}` +
              `${retentionMs !== undefined ? ` and older than --retention ${escapeValue(options.retention ?? '')}` : ''}\n`,
          );
        } else {
          ctx.writeOut(
            `pruned ${result.segments.length} segment(s) of ${escapeValue(location.shown)}: ${result.segments.join(', ')} ` +
              `(seq ${result.firstSeq}–${result.lastSeq}, ${limit})\n` +
              `signed prune record at seq ${result.seq}; "agent-audit verify" reports it and still verifies the rest\n`,
          );
        }
      };
      if (everyMs === undefined) {
        await once();
        return;
      }
      await new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        let stopped = false;
        let running: Promise<void> | undefined;
        // A signal during a run lets it finish (its prune record and final checkpoint).
        const stop = () => {
          stopped = true;
          if (timer) clearTimeout(timer);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void (running ?? Promise.resolve()).then(() => resolve());
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        const tick = async () => {
          try {
            await once();
            setExitCode(0);
          } catch (error) {
            // A scheduled prune keeps running: the next run may succeed (a lock released, data aged).
            const message = error instanceof Error ? error.message : String(error);
            ctx.writeErr(
              `agent-audit prune: run at ${ctx.now().toISOString()} failed, trying again in ${options.every}: ${message}\n`,
            );
            setExitCode(error instanceof CliError ? error.exitCode : 1);
          }
        };
        const schedule = () => {
          running = tick().finally(() => {
            running = undefined;
            if (!stopped) timer = setTimeout(schedule, everyMs);
          });
        };
        schedule();
      });
    });
}
