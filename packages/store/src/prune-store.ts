import { AuditStore } from './audit-store.js';
import type { AuditStoreOptions, PruneResult } from './types.js';

/**
 * `agent-audit prune [--before <date>]`: open the store as its writer (so it must not be open
 * elsewhere; a `retention` policy given is recorded first when it changed), prune eligible
 * sealed segments, close with a final checkpoint. Without `before`, the recorded policy's
 * maximum age decides (see `AuditStore.prune`).
 */
export async function pruneStore(
  options: AuditStoreOptions & { before?: Date },
): Promise<PruneResult> {
  const { before, ...storeOptions } = options;
  const store = AuditStore.open(storeOptions);
  try {
    return await store.prune(before === undefined ? {} : { before });
  } finally {
    await store.close();
  }
}
