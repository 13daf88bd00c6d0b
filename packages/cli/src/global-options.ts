import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { resolveStoreLocations, STORE_DIR_ENV } from '@agent-audit/store';
import type { CliContext } from './cli-context.js';
import { CliError, EXIT_IO, EXIT_USAGE } from './cli-error.js';

/** The options every command takes (declared once, on the program). */
export interface GlobalOptions {
  /**
   * Store directories (the option repeats: a run whose processes each kept their own store is
   * read from all of them). Default: env AGENT_AUDIT_STORE_DIR, else `./.agent-audit`.
   */
  store?: string[];
  /** Machine output on stdout, nothing else on stdout. */
  json?: boolean;
}

/** A directory as the user named it (for messages) and as an absolute path (for I/O). */
export interface Location {
  shown: string;
  path: string;
}

function locate(shown: string, ctx: CliContext): Location {
  return { shown, path: isAbsolute(shown) ? shown : resolve(ctx.cwd, shown) };
}

/** `--store` may repeat: commander calls this for each occurrence. */
export function collectStore(value: string, previous: string[] | undefined): string[] {
  return previous ? [...previous, value] : [value];
}

/**
 * Store and trust directories through the one resolver every entry point shares
 * (`--store` > env > default); a blank `--store ""` is a usage error, not the cwd.
 */
function locations(ctx: CliContext, storeDir?: string) {
  try {
    return resolveStoreLocations({ storeDir, env: ctx.env });
  } catch {
    throw new CliError(
      `invalid --store value ${JSON.stringify(storeDir)}: expected a store directory path`,
      EXIT_USAGE,
    );
  }
}

/** The store directories in effect, without checking that they exist. */
export function storeLocations(options: GlobalOptions, ctx: CliContext): Location[] {
  if (options.store && options.store.length > 0) {
    return [...new Set(options.store)].map((dir) => locate(locations(ctx, dir).storeDir, ctx));
  }
  return [locate(locations(ctx).storeDir, ctx)];
}

/** The trust directory (public key, anchor file): env AGENT_AUDIT_TRUST_DIR, else `./.agent-audit-trust`. */
export function trustLocation(ctx: CliContext): Location {
  return locate(locations(ctx).trustDir, ctx);
}

/** A file inside the trust directory, when it exists. */
export function trustFile(ctx: CliContext, name: string): Location | undefined {
  const dir = trustLocation(ctx);
  const path = join(dir.path, name);
  return existsSync(path) ? { shown: join(dir.shown, name), path } : undefined;
}

/**
 * The one store a command works on (status, prune, reindex). Given several `--store`,
 * it refuses rather than silently picking one.
 */
export function existingStore(options: GlobalOptions, ctx: CliContext, command: string): Location {
  const locations = storeLocations(options, ctx);
  if (locations.length > 1) {
    throw new CliError(
      `${command} works on one store at a time, but --store was given ${locations.length} times — run it once per store`,
      EXIT_USAGE,
    );
  }
  return checkedStore(locations[0]!, options);
}

/** Every store named (trail, explain, report and runs read a run across all of them). */
export function existingStores(options: GlobalOptions, ctx: CliContext): Location[] {
  return storeLocations(options, ctx).map((location) => checkedStore(location, options));
}

/** A store verify checks, with the usage error to report if the library finds nothing either. */
export interface StoreToVerify extends Location {
  /** Set when the path is not a directory (the error every other command gives). */
  missing?: CliError;
}

/**
 * verify's stores. Every existing directory reaches the library's verdict, with or without
 * `segments/` (a store whose segments were removed is `ANCHOR_BEYOND_END`, 1, when the anchor
 * binds its path: tampering, not a usage error). A path that is not a directory is verified
 * too, and reported with the usage error (`missing`, 3) only when the library finds no anchor
 * line binding it either: a deleted store directory the anchor binds is tampering (1).
 */
export function storesToVerify(options: GlobalOptions, ctx: CliContext): StoreToVerify[] {
  return storeLocations(options, ctx).map((location) => {
    try {
      return checkedStore(location, options, false);
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      return { ...location, missing: error };
    }
  });
}

/**
 * A store directory, which must exist: commands say plainly where they looked and how to get
 * a store there instead of failing deep inside the reader.
 */
function checkedStore(location: Location, options: GlobalOptions, needSegments = true): Location {
  let isDir = false;
  try {
    isDir = statSync(location.path).isDirectory();
  } catch {
    const how =
      options.store === undefined
        ? `run your agent with registerAgentAudit() first, or pass --store DIR (or set ${STORE_DIR_ENV})`
        : 'check the --store path, or run your agent with registerAgentAudit() to create it';
    throw new CliError(`no audit store at ${location.shown} — ${how}`, EXIT_IO);
  }
  if (!isDir) {
    throw new CliError(
      `${location.shown} is a file, not an audit store directory — pass the directory with --store DIR`,
      EXIT_IO,
    );
  }
  if (needSegments && !existsSync(join(location.path, 'segments'))) {
    throw new CliError(
      `${location.shown} is not an audit store (it has no segments/ directory) — pass the store directory with --store DIR`,
      EXIT_IO,
    );
  }
  return location;
}
