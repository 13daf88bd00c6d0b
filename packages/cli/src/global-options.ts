import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { CliContext } from './cli-context.js';
import { CliError, EXIT_IO } from './cli-error.js';

/** The options every command takes (declared once, on the program). */
export interface GlobalOptions {
  /** Store directory. Default: env AGENT_AUDIT_STORE_DIR, else `./.agent-audit`. */
  store?: string;
  /** Machine output on stdout, nothing else on stdout. */
  json?: boolean;
}

export const DEFAULT_STORE_DIR = './.agent-audit';
export const DEFAULT_TRUST_DIR = './.agent-audit-trust';

/** A directory as the user named it (for messages) and as an absolute path (for I/O). */
export interface Location {
  shown: string;
  path: string;
}

function locate(shown: string, ctx: CliContext): Location {
  return { shown, path: isAbsolute(shown) ? shown : resolve(ctx.cwd, shown) };
}

/** The store directory in effect, without checking that it exists. */
export function storeLocation(options: GlobalOptions, ctx: CliContext): Location {
  const env = ctx.env.AGENT_AUDIT_STORE_DIR;
  return locate(options.store ?? (env ? env : DEFAULT_STORE_DIR), ctx);
}

/** The trust directory (public key, anchor file): env AGENT_AUDIT_TRUST_DIR, else `./.agent-audit-trust`. */
export function trustLocation(ctx: CliContext): Location {
  const env = ctx.env.AGENT_AUDIT_TRUST_DIR;
  return locate(env ? env : DEFAULT_TRUST_DIR, ctx);
}

/** A file inside the trust directory, when it exists. */
export function trustFile(ctx: CliContext, name: string): Location | undefined {
  const dir = trustLocation(ctx);
  const path = join(dir.path, name);
  return existsSync(path) ? { shown: join(dir.shown, name), path } : undefined;
}

/**
 * The store directory, which must exist: reading commands say plainly where they looked and
 * how to get a store there instead of failing deep inside the reader.
 */
export function existingStore(options: GlobalOptions, ctx: CliContext): Location {
  const location = storeLocation(options, ctx);
  let isDir = false;
  try {
    isDir = statSync(location.path).isDirectory();
  } catch {
    const how =
      options.store === undefined
        ? 'run your agent with registerAgentAudit() first, or pass --store DIR (or set AGENT_AUDIT_STORE_DIR)'
        : 'check the --store path, or run your agent with registerAgentAudit() to create it';
    throw new CliError(`no audit store at ${location.shown} — ${how}`, EXIT_IO);
  }
  if (!isDir) {
    throw new CliError(
      `${location.shown} is a file, not an audit store directory — pass the directory with --store DIR`,
      EXIT_IO,
    );
  }
  if (!existsSync(join(location.path, 'segments'))) {
    throw new CliError(
      `${location.shown} is not an audit store (it has no segments/ directory) — pass the store directory with --store DIR`,
      EXIT_IO,
    );
  }
  return location;
}
