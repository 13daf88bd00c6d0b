import type { AnchorRead } from '../anchor-file.js';
import type { VerifyState } from './verify-state.js';

/**
 * Store identity (docs/store-format.md, "Store identity"). The origin a store must have is
 * `expected` (`--origin`) when given, else the origin of the first anchor line naming this
 * store's path. A store whose origin differs was replaced (rewritten under a fresh origin,
 * or swapped for another store sharing the trust directory). A store verified at a path no
 * anchor line names (a copy) whose origin the anchor knows only under other paths holds
 * another store's records, unless `expected` vouches for it.
 */
export function checkIdentity(
  state: VerifyState,
  anchor: AnchorRead | undefined,
  anchorPath: string | undefined,
  expected: string | undefined,
): void {
  const origin = state.origin;
  if (origin === null) return; // the header checks report it
  const here = state.source.location;
  if (expected !== undefined) {
    if (origin !== expected) {
      state.log.add(
        'STORE_IDENTITY_MISMATCH',
        `the store at ${here} has origin ${origin}, not the expected ${expected} (--origin): it is another store, or was rewritten under a fresh origin`,
      );
    }
    return;
  }
  if (!anchor) return;
  const bound = anchor.entries.find((e) => e.store === here);
  if (bound) {
    if (bound.origin !== origin) {
      state.log.add(
        'STORE_IDENTITY_MISMATCH',
        `the anchor ${anchorPath} binds ${here} to origin ${bound.origin} (line ${bound.line}), but the store's segments have origin ${origin}: the store was replaced or rewritten; restore the original store, or verify this one with --origin ${origin} if it is really meant to be there`,
      );
    }
    return;
  }
  const ours = anchor.entries.filter((e) => e.origin === origin);
  if (ours.length > 0 && ours.every((e) => typeof e.store === 'string' && e.store !== here)) {
    state.log.add(
      'STORE_IDENTITY_MISMATCH',
      `the records at ${here} belong to store ${ours[0]!.store} (origin ${origin}, anchor ${anchorPath}); if this is a copy of that store, verify it with --origin ${origin}`,
    );
  }
}
