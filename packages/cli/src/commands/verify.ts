import { accessSync, constants } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { formatAge, type VerifyReport, verifyStore } from '@agent-audit/store';
import { Command } from 'commander';
import { runArchiveVerify } from '../archive-verify.js';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_IO } from '../cli-error.js';
import {
  type GlobalOptions,
  type Location,
  storesToVerify,
  trustFile,
  trustLocation,
} from '../global-options.js';
import { formatBytes, ProgressLine } from '../progress-line.js';
import { storeFailure } from '../store-access.js';
import { escapeValue } from '../terminal-text.js';

interface VerifyCommandOptions {
  publicKey?: string;
  anchor?: string;
  origin?: string;
  full?: boolean;
  archive?: string;
  staleAfter?: string;
}

const ORIGIN = /^[0-9a-f]{32}$/;

const VERDICT: Record<number, string> = {
  0: 'VERIFIED',
  1: 'TAMPERED',
  2: 'NOT FULLY VERIFIED',
  3: 'ERROR',
};

/**
 * The verdict over several stores: tampering anywhere wins, then an error (some store could
 * not be checked), then "not fully verified"; 0 only when every store verified.
 */
export function worstExitCode(codes: number[]): number {
  for (const code of [1, 3, 2]) if (codes.includes(code)) return code;
  return 0;
}

function given(path: string, ctx: CliContext): Location {
  return { shown: path, path: isAbsolute(path) ? path : resolve(ctx.cwd, path) };
}

/**
 * The key is handed to the store library as a path, not as its text: the library refuses a
 * key file inside the store directory (`KEY_INSIDE_STORE_IGNORED`), for every store verified.
 * Reading it here first only gives a missing file a clear message.
 */
function checkPublicKey(location: Location): string {
  try {
    accessSync(location.path, constants.R_OK);
    return location.path;
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new CliError(
      `cannot read public key ${location.shown} (${reason}) — pass the public-key.pem that ` +
        '"agent-audit keygen" (or the writer, in its trust directory) created',
      EXIT_IO,
    );
  }
}

function where(problem: { segment?: number; seq?: number }): string {
  const parts: string[] = [];
  if (problem.segment !== undefined) parts.push(`segment ${problem.segment}`);
  if (problem.seq !== undefined) parts.push(`seq ${problem.seq}`);
  return parts.length ? ` at ${parts.join(', ')}` : '';
}

/** The human verify report: verdict, coverage, then the first problem with code and location. */
export function renderVerify(report: VerifyReport, storeShown: string, anchor?: string): string {
  const lines: string[] = [];
  lines.push(`${VERDICT[report.exitCode] ?? 'UNKNOWN'}: ${storeShown} (exit ${report.exitCode})`);
  lines.push(
    `  ${report.records} records in ${report.segments} segment(s), ${formatBytes(report.bytes)}, head seq ${report.headSeq}` +
      (report.origin ? `, origin ${report.origin}` : ''),
  );
  const keys = report.trustedKeys.length ? ` with key ${report.trustedKeys.join(', ')}` : '';
  lines.push(
    `  ${report.checkpoints} checkpoint(s); signed through seq ${report.signedThrough} of ${report.headSeq}${keys}`,
  );
  const anchorProblem = report.problems.find((p) => p.code.startsWith('ANCHOR_'));
  lines.push(
    report.anchorChecked
      ? `  anchor checked${anchor ? `: ${anchor}` : ''}`
      : anchorProblem && anchorProblem.code !== 'ANCHOR_NOT_CHECKED'
        ? `  anchor NOT checked: ${anchorProblem.message}`
        : '  anchor NOT checked (no anchor file; pass --anchor FILE)',
  );
  for (const recovery of report.recoveries) {
    lines.push(
      `  recovery at seq ${recovery.seq}: ${recovery.length} torn bytes of segment ${recovery.tornSegment} ` +
        `at offset ${recovery.offset} set aside in ${recovery.file} (${recovery.reason})`,
    );
  }
  for (const prune of report.pruned) {
    lines.push(
      `  pruned at seq ${prune.seq}: segment(s) ${prune.segments.join(', ')} (seq ${prune.firstSeq}–${prune.lastSeq}, before ${prune.before})`,
    );
  }
  for (const session of report.sessions ?? []) {
    const unattested = session.unattested
      ? `; records ${session.unattested.fromSeq}–${session.unattested.toSeq} signed over UNATTESTED`
      : '';
    lines.push(
      `  writer reopened at seq ${session.seq} (${session.time}) after the previous writer ${session.previous}, attested through seq ${session.attested.seq}${unattested}`,
    );
  }
  for (const loss of report.losses ?? []) {
    lines.push(
      `  LOST at seq ${loss.seq}: ${loss.count} records (${loss.reason}) between ${loss.firstTime} and ${loss.lastTime}, in run(s) ${loss.runs.map((r) => `${r.run === '' ? '(none)' : r.run} ×${r.count}`).join(', ')}`,
    );
  }
  const policy = report.retention?.policies.at(-1);
  if (policy) {
    const p = policy.policy;
    const ages = (min: number | undefined, max: number | undefined) =>
      `min ${formatAge(min ?? 0)}, max ${max === undefined ? 'none' : formatAge(max)}`;
    const tenants = Object.entries(p.tenants).map(
      ([t, a]) => `${escapeValue(t)} ${ages(a.minAgeMs ?? p.minAgeMs, a.maxAgeMs ?? p.maxAgeMs)}`,
    );
    const changes = report.retention.policies.filter((x) => x.reason === 'configured').length;
    lines.push(
      `  retention policy in force (seq ${policy.seq}, ${changes} change(s) recorded): ${ages(p.minAgeMs, p.maxAgeMs)}` +
        (tenants.length ? `; tenant ${tenants.join('; tenant ')}` : ''),
    );
  }
  const first = report.problems[0];
  if (first) {
    lines.push(`first problem: ${first.code}${where(first)}: ${first.message}`);
    // The first problem is the one to act on; a few more show whether it is isolated.
    const more = report.problems.slice(1, 5);
    for (const p of more) lines.push(`  then ${p.code}${where(p)}: ${p.message}`);
    const rest = report.problems.length - 1 - more.length;
    if (rest > 0) lines.push(`  (${rest} more; --json lists them all)`);
  }
  for (const warning of report.warnings) {
    lines.push(`warning: ${warning.code}${where(warning)}: ${warning.message}`);
  }
  return `${lines.join('\n')}\n`;
}

export function verifyCommand(ctx: CliContext, setExitCode: (code: number) => void): Command {
  return new Command('verify')
    .description(
      'check every record, the hash chain, segments, checkpoint signatures and the anchor; name the first problem',
    )
    .option(
      '--public-key <file>',
      'trusted Ed25519 public key (PEM) (default: public-key.pem in $AGENT_AUDIT_TRUST_DIR or ./.agent-audit-trust, if present)',
    )
    .option(
      '--anchor <file>',
      'anchor file to check against (default: anchor.jsonl in the trust directory, if present)',
    )
    .option(
      '--origin <hex>',
      'the origin (32 hex digits) the store must have (default: the origin the anchor binds to the store path); needed to verify a copy of a store at another path',
    )
    .option(
      '--full',
      "re-hash every record, also in sealed segments whose seal digest already matched (slower; the default proves those bytes through the seal's digest)",
    )
    .option(
      '--archive <s3-url>',
      'verify the fleet archive at s3://bucket/prefix instead of a local store: every store in it, its pushes, and its objects (keys: --public-key, else those archived under Object Lock)',
    )
    .option(
      '--stale-after <duration>',
      "with --archive: a store whose last push is this much older than the archive's newest is a host that stopped pushing (exit 2) (default: 2d)",
    )
    .addHelpText(
      'after',
      '\nWith --store given more than once, each store is verified in turn (--json: an array) and the exit code is the worst.' +
        '\nExit: 0 verified and covered by a trusted checkpoint · 1 tampering found · 2 cannot fully verify · 3 usage or I/O error' +
        '\nA missing --anchor file is exit 2 (ANCHOR_MISSING), unless tampering is found (1). Codes: docs/store-format.md.',
    )
    .action(async (options: VerifyCommandOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      if (options.archive !== undefined) {
        const key =
          options.publicKey !== undefined
            ? checkPublicKey(given(options.publicKey, ctx))
            : undefined;
        setExitCode(
          await runArchiveVerify(ctx, options.archive, {
            ...options,
            publicKey: key,
            json: globals.json === true,
          }),
        );
        return;
      }
      const stores = storesToVerify(globals, ctx);
      if (options.origin !== undefined && !ORIGIN.test(options.origin)) {
        throw new CliError(
          `Configuration: --origin is invalid, expected 32 lowercase hex digits (the origin verify --json reports) (actual: ${JSON.stringify(options.origin)})`,
          EXIT_IO,
        );
      }
      const keyFile =
        options.publicKey !== undefined
          ? given(options.publicKey, ctx)
          : trustFile(ctx, 'public-key.pem');
      // A named anchor that is missing or unreadable is reported by verify itself
      // (ANCHOR_MISSING 2, ANCHOR_UNREADABLE 3) after checking everything else, so that
      // tampering found in the store still decides the exit code (1).
      const anchor =
        options.anchor !== undefined ? given(options.anchor, ctx) : trustFile(ctx, 'anchor.jsonl');
      const reports: VerifyReport[] = [];
      // Several --store (one per process of a run): each is verified on its own, in turn.
      for (const store of stores) {
        const progress = new ProgressLine(ctx);
        let report: VerifyReport;
        try {
          report = await verifyStore({
            dir: store.path,
            trustDir: trustLocation(ctx).path,
            ...(keyFile ? { publicKey: checkPublicKey(keyFile) } : {}),
            anchorPath: anchor ? anchor.path : false,
            ...(options.origin !== undefined ? { origin: options.origin } : {}),
            ...(options.full ? { full: true } : {}),
            onProgress: (p) =>
              progress.update(() => {
                const pct = p.totalBytes > 0 ? Math.floor((p.bytes / p.totalBytes) * 100) : 0;
                return `verifying ${store.shown} segment ${p.segment}/${p.segments}  ${pct}%  ${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)}  ${p.records} records`;
              }),
          });
        } catch (error) {
          throw storeFailure(error, store);
        } finally {
          progress.done();
        }
        // No directory there: the usage error ("no audit store at …", 3), unless the anchor
        // binds the path (the store was deleted: ANCHOR_BEYOND_END, 1; tampering wins).
        if (store.missing && !report.problems.some((p) => p.code === 'ANCHOR_BEYOND_END')) {
          throw store.missing;
        }
        reports.push(report);
        if (!globals.json) ctx.writeOut(renderVerify(report, store.shown, anchor?.shown));
      }
      if (globals.json) {
        ctx.writeOut(`${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`);
      }
      setExitCode(worstExitCode(reports.map((r) => r.exitCode)));
    });
}
