import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import {
  loadWatchConfig,
  type WatchConfig,
  WatchConfigError,
  watchConfigFrom,
} from '@agent-audit/watch';
import type { CliContext } from './cli-context.js';
import { CliError, EXIT_IO, EXIT_USAGE } from './cli-error.js';
import type { GlobalOptions } from './global-options.js';

/** The configuration file `watch`, `detect` and `alerts` read when `--config` is not given. */
export const DEFAULT_WATCH_CONFIG = 'agent-audit-watch.yaml';

/**
 * The watch configuration: `--config F`, else `./agent-audit-watch.yaml` when it exists, else
 * the documented defaults over the `--store` directories (or the default store).
 */
export function watchConfigOf(
  config: string | undefined,
  globals: GlobalOptions,
  ctx: CliContext,
): WatchConfig {
  const file = config ?? DEFAULT_WATCH_CONFIG;
  const path = isAbsolute(file) ? file : resolve(ctx.cwd, file);
  try {
    if (config !== undefined || existsSync(path)) {
      const loaded = loadWatchConfig(path);
      if (globals.store && globals.store.length > 0) {
        loaded.stores = globals.store.map((dir) => ({
          dir: resolve(ctx.cwd, dir),
          trustDir: undefined,
        }));
      }
      return loaded;
    }
    const stores =
      globals.store && globals.store.length > 0
        ? globals.store
        : [ctx.env.AGENT_AUDIT_STORE_DIR ?? '.agent-audit'];
    return watchConfigFrom({ stores: stores.map((dir) => ({ dir })) }, undefined, ctx.cwd);
  } catch (error) {
    if (error instanceof WatchConfigError) {
      throw new CliError(
        error.message,
        error.message.startsWith('cannot read') ? EXIT_IO : EXIT_USAGE,
      );
    }
    throw error;
  }
}
