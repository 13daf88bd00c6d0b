import { StoreError } from '@agent-audit/store';
import { openStoreReader } from '@agent-audit/store/query';
import { CliError, EXIT_IO } from './cli-error.js';
import type { Location } from './global-options.js';
import { escapeValue } from './terminal-text.js';

export type StoreReader = Awaited<ReturnType<typeof openStoreReader>>;

/**
 * A store or file-system failure as a message that names the store (and keeps the store's
 * stable code). Anything else is a bug and is returned unchanged, to be reported with its stack.
 */
export function storeFailure(error: unknown, location: Location): unknown {
  if (error instanceof CliError) return error;
  if (error instanceof StoreError) {
    return new CliError(
      `${escapeValue(location.shown)}: ${escapeValue(error.message)} [${error.code}]`,
      EXIT_IO,
    );
  }
  const err = error as NodeJS.ErrnoException | null;
  if (err instanceof Error && typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code)) {
    return new CliError(`${escapeValue(location.shown)}: ${escapeValue(err.message)}`, EXIT_IO);
  }
  return error;
}

/** Opens the store for reading, runs `fn`, closes the reader; store errors become CliErrors. */
export async function withStoreReader<T>(
  location: Location,
  fn: (reader: StoreReader) => Promise<T> | T,
): Promise<T> {
  let reader: StoreReader;
  try {
    reader = await openStoreReader(location.path);
  } catch (error) {
    throw storeFailure(error, location);
  }
  try {
    return await fn(reader);
  } catch (error) {
    throw storeFailure(error, location);
  } finally {
    try {
      await reader.close?.();
    } catch {
      // Closing a read-only handle cannot lose data; the command's result stands.
    }
  }
}

/** A reader per store, for commands that read a run kept in several stores. */
export async function withStoreReaders<T>(
  locations: Location[],
  fn: (readers: Array<{ location: Location; reader: StoreReader }>) => Promise<T> | T,
): Promise<T> {
  const open: Array<{ location: Location; reader: StoreReader }> = [];
  try {
    for (const location of locations) {
      try {
        open.push({ location, reader: await openStoreReader(location.path) });
      } catch (error) {
        throw storeFailure(error, location);
      }
    }
    return await fn(open);
  } finally {
    for (const { reader } of open) {
      try {
        reader.close();
      } catch {
        // Closing a read-only handle cannot lose data; the command's result stands.
      }
    }
  }
}
