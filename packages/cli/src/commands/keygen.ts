import { existsSync, renameSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { DEFAULT_TRUST_DIR, TRUST_DIR_ENV, writeKeyPair } from '@agent-audit/store';
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_IO } from '../cli-error.js';
import { type GlobalOptions, trustLocation } from '../global-options.js';
import { storeFailure } from '../store-access.js';

interface KeygenOptions {
  out?: string;
  force?: boolean;
}

const KEY_FILES = ['signing-key.pem', 'public-key.pem'];

/** `keygen --json` output. */
export interface KeygenOutput {
  key_id: string;
  private_key_path: string;
  public_key_path: string;
  /** Files of a previous pair moved aside by --force (never deleted: old checkpoints need them). */
  replaced: string[];
}

export function keygenCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return new Command('keygen')
    .description('create an Ed25519 key pair for signing store checkpoints')
    .option(
      '--out <dir>',
      `directory for signing-key.pem and public-key.pem (default: $${TRUST_DIR_ENV} or ${DEFAULT_TRUST_DIR})`,
    )
    .option(
      '--force',
      'replace an existing pair; the old files are kept beside it as *.replaced-<time>',
    )
    .action((options: KeygenOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const out =
        options.out === undefined
          ? trustLocation(ctx)
          : {
              shown: options.out,
              path: isAbsolute(options.out) ? options.out : resolve(ctx.cwd, options.out),
            };
      const existing = KEY_FILES.map((name) => join(out.path, name)).filter((f) => existsSync(f));
      const replaced: string[] = [];
      if (existing.length > 0) {
        if (!options.force) {
          throw new CliError(
            `a key pair already exists in ${out.shown} (${existing.map((f) => relative(out.path, f)).join(', ')}) — ` +
              'replacing it would leave the checkpoints it signed without their key. ' +
              'Pass --out DIR for a new pair elsewhere, or --force to move the old pair aside.',
            EXIT_IO,
          );
        }
        const stamp = ctx.now().toISOString().replace(/[:.]/g, '-');
        for (const file of existing) {
          const aside = `${file}.replaced-${stamp}`;
          renameSync(file, aside);
          replaced.push(aside);
        }
      }
      let written: ReturnType<typeof writeKeyPair>;
      try {
        written = writeKeyPair(out.path);
      } catch (error) {
        throw storeFailure(error, out);
      }
      if (globals.json) {
        const output: KeygenOutput = {
          key_id: written.keyId,
          private_key_path: written.privateKeyPath,
          public_key_path: written.publicKeyPath,
          replaced,
        };
        ctx.writeOut(`${JSON.stringify(output, null, 2)}\n`);
        return;
      }
      const shownPublic = join(out.shown, 'public-key.pem');
      ctx.writeOut(
        [
          `created Ed25519 key pair ${written.keyId}`,
          `  private key: ${written.privateKeyPath}  (mode 0600: only the writer needs it)`,
          `  public key:  ${written.publicKeyPath}`,
          ...replaced.map((f) => `  previous pair moved aside: ${f}`),
          '',
          'Pin the public key outside the store, where the auditor checks from:',
          `  - keep a copy of ${shownPublic} (or at least its key id ${written.keyId}) on another machine or volume;`,
          `  - verify with it: agent-audit verify --public-key ${shownPublic}`,
          `  - the writer signs with signing-key.pem from its trust directory ($${TRUST_DIR_ENV},`,
          `    default ${DEFAULT_TRUST_DIR}); a key found inside the store is never trusted.`,
          '',
        ].join('\n'),
      );
    });
}
