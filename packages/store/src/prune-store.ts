import { AuditStore } from './audit-store.js';
import type { AuditStoreOptions, PruneResult } from './types.js';

/**
 * `agent-audit prune --before <date>`: open the store as its writer (so it must not be open
 * elsewhere), prune eligible sealed segments, close with a final checkpoint.
 */
export async function pruneStore(
  options: AuditStoreOptions & { before: Date },
): Promise<PruneResult> {
  const { before, ...storeOptions } = options;
  const store = AuditStore.open(storeOptions);
  try {
    return await store.prune({ before });
  } finally {
    await store.close();
  }
}
