import {
  archiveClient,
  compactIndexDay,
  DEFAULT_RETAIN_DAYS,
  type PushResult,
  parseArchiveUrl,
  pushStore,
  RETAIN_DAYS_ENV,
  reindexArchive,
} from '@agent-audit/archive';
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_IO, EXIT_TAMPERED, EXIT_USAGE } from '../cli-error.js';
import { type GlobalOptions, storeLocations, trustLocation } from '../global-options.js';
import { parseTimePoint } from '../parse-time.js';
import { formatBytes, ProgressLine } from '../progress-line.js';

interface PushCommandOptions {
  to: string;
  retainDays?: string;
  trustDir?: string;
}

/** Undefined when not given: the store's recorded retention policy decides (see pushStore). */
function retainDays(options: PushCommandOptions, ctx: CliContext): number | undefined {
  const raw = options.retainDays ?? ctx.env[RETAIN_DAYS_ENV];
  if (raw === undefined || raw === '') return undefined;
  const days = Number(raw);
  if (!Number.isInteger(days) || days < 1 || days > 36_500) {
    const from = options.retainDays !== undefined ? '--retain-days' : RETAIN_DAYS_ENV;
    throw new CliError(
      `Configuration: ${from} is invalid, expected a whole number of days from 1 to 36500 (actual: ${JSON.stringify(raw)})`,
      EXIT_USAGE,
    );
  }
  return days;
}

/** `agent-audit archive push`: ship sealed segments to S3 Object Lock. */
export function archiveCommand(ctx: CliContext, setExitCode: (code: number) => void): Command {
  const archive = new Command('archive').description(
    'the fleet archive: sealed segments in an S3 bucket with Object Lock (see docs/deployment.md)',
  );
  archive
    .command('push')
    .description(
      "ship each store's sealed segments, checkpoints, recovery records and public key to S3, each object locked (COMPLIANCE) with a SHA-256 checksum; idempotent, resumable, safe to run from cron on every host at once",
    )
    .requiredOption('--to <s3-url>', 'the archive: s3://bucket/prefix (a bucket with Object Lock)')
    .option(
      '--retain-days <n>',
      `COMPLIANCE retention of each object pushed, in days from now (default: $${RETAIN_DAYS_ENV}, else the maxAge of the retention policy the store records, else ${DEFAULT_RETAIN_DAYS})`,
    )
    .option(
      '--trust-dir <dir>',
      "trust directory with the store's public-key.pem (default: $AGENT_AUDIT_TRUST_DIR or ./.agent-audit-trust)",
    )
    .addHelpText(
      'after',
      '\nAWS configuration is the standard one: credentials chain, AWS_REGION, AWS_ENDPOINT_URL_S3 for an S3-compatible server (path-style).' +
        '\nExit: 0 every store pushed · 3 a store or the bucket failed (the message names it and the fix)',
    )
    .action(async (options: PushCommandOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      let location: ReturnType<typeof parseArchiveUrl>;
      try {
        location = parseArchiveUrl(options.to);
      } catch (error) {
        throw new CliError((error as Error).message, EXIT_USAGE);
      }
      const days = retainDays(options, ctx);
      const trustDir = options.trustDir ?? trustLocation(ctx).path;
      const client = archiveClient(ctx.env);
      const results: PushResult[] = [];
      let failed = 0;
      for (const store of storeLocations(globals, ctx)) {
        const progress = new ProgressLine(ctx);
        try {
          const result = await pushStore({
            client,
            location,
            store: store.path,
            trustDir,
            ...(days !== undefined ? { retainDays: days } : {}),
            onProgress: (p) =>
              progress.update(
                () =>
                  `pushing ${store.shown} segment ${p.segment}  ${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)}`,
              ),
          });
          results.push(result);
          if (!globals.json) {
            ctx.writeOut(
              `pushed ${store.shown} (origin ${result.origin}) as push ${result.push}: ${result.segments} segment(s), ${formatBytes(result.bytes)}` +
                (result.alreadyPresent
                  ? `, ${result.alreadyPresent} object(s) already archived`
                  : '') +
                ` → s3://${location.bucket}/${result.manifestKey}\n`,
            );
          }
          if (result.absent.length > 0) {
            ctx.writeErr(
              `warning: ${store.shown}: sealed segment(s) ${result.absent.join(', ')} are missing from the store and were not archived; verify --archive reports them\n`,
            );
          }
        } catch (error) {
          failed++;
          ctx.writeErr(`error: ${store.shown}: ${(error as Error).message}\n`);
        } finally {
          progress.done();
        }
      }
      if (globals.json) ctx.writeOut(`${JSON.stringify(results, null, 2)}\n`);
      setExitCode(failed > 0 ? EXIT_IO : 0);
    });
  archive
    .command('compact')
    .description(
      "merge each past day's run index objects into 16 principal-sharded and 16 run-id-sharded rollups, so that runs, trail and explain --archive read one object per day by key; derived data, written once, safe from cron on any host (run it daily after midnight UTC)",
    )
    .requiredOption('--to <s3-url>', 'the archive: s3://bucket/prefix')
    .option('--days <n>', 'how many days back to compact (default: 90)', '90')
    .option('--today', 'also compact today (later pushes of today are still read on their own)')
    .option(
      '--retain-days <n>',
      `retention of the rollups (default: $${RETAIN_DAYS_ENV} or ${DEFAULT_RETAIN_DAYS})`,
    )
    .action(
      async (
        options: { to: string; days: string; today?: boolean; retainDays?: string },
        command: Command,
      ) => {
        const globals = command.optsWithGlobals<GlobalOptions>();
        let location: ReturnType<typeof parseArchiveUrl>;
        try {
          location = parseArchiveUrl(options.to);
        } catch (error) {
          throw new CliError((error as Error).message, EXIT_USAGE);
        }
        const days = Number(options.days);
        if (!Number.isInteger(days) || days < 1) {
          throw new CliError(
            `Configuration: --days is invalid, expected a whole number of days ≥ 1 (actual: ${JSON.stringify(options.days)})`,
            EXIT_USAGE,
          );
        }
        const retain =
          retainDays(
            { to: options.to, ...(options.retainDays ? { retainDays: options.retainDays } : {}) },
            ctx,
          ) ?? DEFAULT_RETAIN_DAYS;
        const client = archiveClient(ctx.env);
        const now = ctx.now().getTime();
        const results = [];
        for (let d = days; d >= (options.today ? 0 : 1); d--) {
          const day = new Date(now - d * 86_400_000).toISOString().slice(0, 10);
          try {
            const r = await compactIndexDay({ client, location, day, retainDays: retain });
            if (r.covered === 0) continue;
            results.push({ day, ...r });
            if (!globals.json) {
              ctx.writeOut(
                `${day}: ${r.covered} push index(es), ${r.runs} run(s) ${r.written ? 'rolled up' : 'already rolled up by another compactor'}` +
                  `${r.refiled ? `, ${r.refiled} written meanwhile moved to the next day not rolled up` : ''}\n`,
              );
            }
          } catch (error) {
            throw new CliError(
              `compacting ${day} of ${location.url} failed: ${(error as Error).message}`,
              EXIT_IO,
            );
          }
        }
        if (globals.json) ctx.writeOut(`${JSON.stringify(results, null, 2)}\n`);
        setExitCode(0);
      },
    );
  archive
    .command('reindex')
    .description(
      "rebuild the run index from the push manifests: each push's segments are read at the version its manifest names and checked against its SHA-256, and a push with no index object (its index PUT failed, or the object is gone) gets one, locked and checksummed like every archive object; an index that differs from its segments is reported, never overwritten; the next archive compact covers what it writes; writes nothing on a healthy archive",
    )
    .requiredOption('--archive <s3-url>', 'the archive: s3://bucket/prefix')
    .option(
      '--since <time>',
      'only pushes made since then: a duration before now (7d) or an ISO 8601 date (default: every push)',
    )
    .addHelpText(
      'after',
      '\nProgress (pushes checked / total) goes to stderr; --json prints the summary (checked, indexed, written, problems).' +
        '\nA wrong index is never overwritten (index objects are write-once): the rebuilt one is written as its next revision, <origin>-<push>-r<RR>.json, which runs/trail/explain --archive and archive compact prefer.' +
        '\nExit: 0 every push with segments is indexed · 1 a problem, each named on stderr: a segment missing or not matching its manifest digest (that push is not indexed), or an index that differed from its segments (superseded by a revision) · 3 the bucket failed',
    )
    .action(async (options: { archive: string; since?: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      let location: ReturnType<typeof parseArchiveUrl>;
      try {
        location = parseArchiveUrl(options.archive);
      } catch (error) {
        throw new CliError((error as Error).message, EXIT_USAGE);
      }
      const since =
        options.since === undefined
          ? undefined
          : parseTimePoint(options.since, '--since', ctx.now());
      const client = archiveClient(ctx.env);
      let result: Awaited<ReturnType<typeof reindexArchive>>;
      try {
        result = await reindexArchive({
          client,
          location,
          ...(since ? { since } : {}),
          now: () => ctx.now(),
          // A line per push for a small archive, else about every 5% (and the last).
          onProgress: (p) => {
            const step = Math.max(1, Math.floor(p.total / 20));
            if (p.checked % step === 0 || p.checked === p.total)
              ctx.writeErr(`reindex: ${p.checked}/${p.total} pushes checked\n`);
          },
        });
      } catch (error) {
        throw new CliError((error as Error).message, EXIT_IO);
      }
      for (const p of result.problems) ctx.writeErr(`error: ${p.message}\n`);
      if (globals.json) {
        ctx.writeOut(`${JSON.stringify(result, null, 2)}\n`);
      } else {
        for (const w of result.written) {
          ctx.writeOut(
            `indexed push ${w.push} of ${w.origin}: ${w.runs} run(s) → ${w.key}${w.corrects ? ` (supersedes ${w.corrects})` : ''}${w.upgrades ? ` (the current index format; supersedes ${w.upgrades})` : ''}\n`,
          );
        }
        ctx.writeOut(
          `${result.checked} push(es) checked: ${result.indexed} already indexed, ${result.written.length} index object(s) written, ${result.problems.length} problem(s)` +
            (result.written.length > 0 ? '; run agent-audit archive compact to roll them up' : '') +
            '\n',
        );
      }
      setExitCode(result.problems.length > 0 ? EXIT_TAMPERED : 0);
    });
  return archive;
}
