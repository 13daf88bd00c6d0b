import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_NO_SUCH_RUN } from '../cli-error.js';
import { type CredentialUse, findCredentialUse } from '../credential-usage.js';
import { formatTable, layoutFor } from '../format-table.js';
import { existingStores, type GlobalOptions } from '../global-options.js';
import { withStoreReaders } from '../store-access.js';
import { escapeValue } from '../terminal-text.js';

/** A recorded value, escaped for the terminal (records may come from a hostile writer). */
const e = (v: string | null | undefined): string => (v == null ? '-' : escapeValue(v));

function render(uses: CredentialUse[], width: number): string {
  const out: string[] = [];
  for (const u of uses) {
    out.push(`credential ${e(u.credential_ref)}`);
    out.push(`  run        ${e(u.run_id)}`);
    out.push(`  agent      ${e(u.agent_id)}`);
    out.push(`  principal  ${e(u.principal)}`);
    out.push(`  tenant     ${e(u.tenant_id)}`);
    if (u.issued === null) {
      out.push('  issued     (no credential.issued event in these stores)');
    } else {
      out.push(`  issued     ${e(u.issued.time)} by ${e(u.issued.issuer)}`);
      out.push(`  scopes     ${e(u.issued.scopes.join(', ') || null)}`);
      out.push(`  audience   ${e(u.issued.audience)}`);
      out.push(`  expires    ${e(u.issued.expires_at)}`);
    }
    out.push(`  tool calls with it: ${u.tool_calls.length}`);
    if (u.tool_calls.length > 0) {
      out.push(
        formatTable(
          [
            { header: 'TIME' },
            { header: 'SERVICE', priority: 2, minWidth: 10 },
            { header: 'TOOL', minWidth: 10 },
            { header: 'DECISION' },
            { header: 'REASON', priority: 3, minWidth: 16 },
            { header: 'STATUS' },
          ],
          u.tool_calls.map((c) => [
            c.time ?? '-',
            c.service ?? '-',
            c.tool ?? '-',
            c.decision ?? '-',
            c.decision_reason ?? '-',
            c.status === 'unset' ? 'ok' : c.status,
          ]),
          width,
        ).trimEnd(),
      );
    }
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

export function whoisCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return new Command('whois')
    .description(
      'from a credential reference (aat_… from an API gateway, cloud audit or database log) to the run, agent, principal, scopes and every tool call that used it',
    )
    .argument('<credential-ref>', 'the credential.ref, e.g. aat_…')
    .option('--wide', 'every column, nothing cut (default: fit the terminal width)')
    .addHelpText(
      'after',
      "\nRead the agent's and the gateway's stores together:\n  agent-audit --store .agent-audit --store .agent-audit-gateway whois aat_…",
    )
    .action(async (ref: string, options: { wide?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const locations = existingStores(globals, ctx);
      const uses = await withStoreReaders(locations, (readers) => findCredentialUse(readers, ref));
      if (uses.length === 0) {
        throw new CliError(
          `no run issued or used credential.ref=${escapeValue(ref)} in ${locations.map((l) => escapeValue(l.shown)).join(', ')} — pass every store that may hold it (--store, repeatable: the agent's and the gateway's)`,
          EXIT_NO_SUCH_RUN,
        );
      }
      if (globals.json) {
        ctx.writeOut(`${JSON.stringify(uses, null, 2)}\n`);
        return;
      }
      ctx.writeOut(render(uses, layoutFor(ctx, options.wide).width));
    });
}
