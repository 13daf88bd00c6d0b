/**
 * `@agent-audit/store/query`: run queries over a store, with the SQLite index that speeds them
 * up. A separate entry so that writing and verifying a store (the main entry) never loads the
 * native SQLite module.
 */

export { reindexStore } from './reindex-store.js';
export type { IndexedRow, IndexOpenResult, IndexProgress } from './store-index.js';
export { INDEX_FILE } from './store-index.js';
export type { IndexWarning, StoreReader, StoreReaderOptions } from './store-reader.js';
export { openStoreReader } from './store-reader.js';
