import {
  type ArchiveVerifyReport,
  archiveClient,
  parseArchiveUrl,
  verifyArchive,
} from '@agent-audit/archive';
import type { CliContext } from './cli-context.js';
import { CliError, EXIT_IO } from './cli-error.js';
import { formatBytes, ProgressLine } from './progress-line.js';

const VERDICT: Record<number, string> = {
  0: 'VERIFIED',
  1: 'TAMPERED',
  2: 'NOT FULLY VERIFIED',
  3: 'ERROR',
};

/** Parse a duration such as 2d, 12h, 30m, 45s into milliseconds. */
export function parseStaleAfter(raw: string): number {
  const m = /^(\d+)(d|h|m|s)$/.exec(raw);
  if (!m) {
    throw new CliError(
      `Configuration: --stale-after is invalid, expected a duration such as 2d, 12h, 30m or 45s (actual: ${JSON.stringify(raw)})`,
      EXIT_IO,
    );
  }
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[m[2] as 'd' | 'h' | 'm' | 's'];
  return Number(m[1]) * unit;
}

export function renderArchiveVerify(report: ArchiveVerifyReport): string {
  const lines = [
    `${VERDICT[report.exitCode]}: ${report.url} (exit ${report.exitCode}): ${report.stores.length} store(s), ${report.objects} object(s)`,
  ];
  for (const p of report.problems) lines.push(`  ${p.code}: ${p.message}`);
  for (const s of report.stores) {
    const v = s.verify;
    lines.push(
      `${VERDICT[s.exitCode]}: store ${s.origin} host ${s.host ?? '?'} ${s.store ?? ''} — ${s.pushes} push(es), last ${s.lastPush ?? 'never'}; ${s.segments} segment(s)` +
        (v
          ? `, ${v.records} records, ${formatBytes(v.bytes)}, signed through seq ${v.signedThrough} of ${v.headSeq}`
          : ''),
    );
    for (const p of s.problems) lines.push(`  ${p.code}: ${p.message}`);
    for (const p of v?.problems ?? []) {
      lines.push(
        `  ${p.code}${p.segment !== undefined ? ` at segment ${p.segment}` : ''}${p.seq !== undefined ? ` seq ${p.seq}` : ''}: ${p.message}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `verify --archive`: the whole archive, every store; exit codes as `verify`. */
export async function runArchiveVerify(
  ctx: CliContext,
  url: string,
  options: { publicKey?: string; staleAfter?: string; full?: boolean; json?: boolean },
): Promise<number> {
  let location: ReturnType<typeof parseArchiveUrl>;
  try {
    location = parseArchiveUrl(url);
  } catch (error) {
    throw new CliError((error as Error).message, EXIT_IO);
  }
  const progress = new ProgressLine(ctx);
  let report: ArchiveVerifyReport;
  try {
    report = await verifyArchive({
      client: archiveClient(ctx.env),
      location,
      ...(options.publicKey ? { publicKey: options.publicKey } : {}),
      ...(options.staleAfter ? { staleAfterMs: parseStaleAfter(options.staleAfter) } : {}),
      ...(options.full ? { full: true } : {}),
      onProgress: (p) =>
        progress.update(
          () =>
            `verifying ${location.url} store ${p.store}/${p.stores} ${p.origin}  ${formatBytes(p.bytes)}`,
        ),
    });
  } finally {
    progress.done();
  }
  ctx.writeOut(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderArchiveVerify(report));
  return report.exitCode;
}
