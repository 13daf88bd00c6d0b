import { accessSync, constants, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { type VerifyReport, verifyStore } from '@agent-audit/store';
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_IO } from '../cli-error.js';
import {
  existingStores,
  type GlobalOptions,
  type Location,
  trustFile,
  trustLocation,
} from '../global-options.js';
import { formatBytes, ProgressLine } from '../progress-line.js';
import { storeFailure } from '../store-access.js';

interface VerifyCommandOptions {
  publicKey?: string;
  anchor?: string;
  full?: boolean;
}

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

function readPublicKey(location: Location): string {
  try {
    return readFileSync(location.path, 'utf8');
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
  lines.push(
    report.anchorChecked
      ? `  anchor checked${anchor ? `: ${anchor}` : ''}`
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
      '--full',
      "re-hash every record, also in sealed segments whose seal digest already matched (slower; the default proves those bytes through the seal's digest)",
    )
    .addHelpText(
      'after',
      '\nWith --store given more than once, each store is verified in turn (--json: an array) and the exit code is the worst.' +
        '\nExit: 0 verified and covered by a trusted checkpoint · 1 tampering found · 2 cannot fully verify · 3 usage or I/O error',
    )
    .action(async (options: VerifyCommandOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const stores = existingStores(globals, ctx);
      const keyFile =
        options.publicKey !== undefined
          ? given(options.publicKey, ctx)
          : trustFile(ctx, 'public-key.pem');
      const anchor =
        options.anchor !== undefined ? given(options.anchor, ctx) : trustFile(ctx, 'anchor.jsonl');
      if (options.anchor !== undefined && anchor) {
        try {
          accessSync(anchor.path, constants.R_OK);
        } catch (error) {
          throw new CliError(
            `cannot read anchor file ${anchor.shown} (${(error as NodeJS.ErrnoException).code ?? error}) — ` +
              'pass the anchor.jsonl the writer appends its checkpoints to',
            EXIT_IO,
          );
        }
      }
      const reports: VerifyReport[] = [];
      // Several --store (one per process of a run): each is verified on its own, in turn.
      for (const store of stores) {
        const progress = new ProgressLine(ctx);
        let report: VerifyReport;
        try {
          report = await verifyStore({
            dir: store.path,
            trustDir: trustLocation(ctx).path,
            ...(keyFile ? { publicKey: readPublicKey(keyFile) } : {}),
            anchorPath: anchor ? anchor.path : false,
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
        reports.push(report);
        if (!globals.json) ctx.writeOut(renderVerify(report, store.shown, anchor?.shown));
      }
      if (globals.json) {
        ctx.writeOut(`${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`);
      }
      setExitCode(worstExitCode(reports.map((r) => r.exitCode)));
    });
}
