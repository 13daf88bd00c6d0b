import type { KeyObject } from 'node:crypto';
import * as path from 'node:path';
import { configurationError } from './errors.js';
import { type FsLayer, nodeFsLayer } from './fs-layer.js';
import { normaliseRetentionPolicy, type RetentionPolicy } from './retention-policy.js';
import { ANCHOR_FILE, DEFAULT_STORE_DIR, DEFAULT_TRUST_DIR } from './store-paths.js';
import type { AuditStoreOptions, StoreNotice } from './types.js';

/** The default clock; the writer formats record times faster when it is in use. */
export const systemNow = (): Date => new Date();

/** Writer options, validated and with every default filled in (see `AuditStoreOptions`). */
export interface Resolved {
  retentionMs: number;
  retention: RetentionPolicy | undefined;
  pruneEveryMs: number;
  dir: string;
  signingKey: KeyObject | string | undefined;
  trustDir: string;
  anchorPath: string;
  checkpointEveryRecords: number;
  checkpointIntervalMs: number;
  segmentMaxBytes: number;
  segmentMaxAgeMs: number;
  onNotice: (notice: StoreNotice) => void;
  fs: FsLayer;
  now: () => Date;
}

export function positiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw configurationError(name, 'a positive integer', value);
  }
  return value;
}

/** Validate `options` once; the writer never re-reads them. */
export function resolveOptions(options: AuditStoreOptions): Resolved {
  if (options === null || typeof options !== 'object') {
    throw configurationError('options', 'an object', options);
  }
  for (const key of ['dir', 'trustDir', 'anchorPath'] as const) {
    const v = options[key];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0)) {
      throw configurationError(key, 'a non-empty path string', v);
    }
  }
  const dir = path.resolve(options.dir ?? DEFAULT_STORE_DIR);
  const trustDir = path.resolve(options.trustDir ?? DEFAULT_TRUST_DIR);
  return {
    dir,
    signingKey: options.signingKey,
    trustDir,
    anchorPath: path.resolve(options.anchorPath ?? path.join(trustDir, ANCHOR_FILE)),
    checkpointEveryRecords: positiveInt(
      'checkpointEveryRecords',
      options.checkpointEveryRecords,
      1000,
    ),
    checkpointIntervalMs: positiveInt('checkpointIntervalMs', options.checkpointIntervalMs, 5000),
    segmentMaxBytes: positiveInt('segmentMaxBytes', options.segmentMaxBytes, 64 * 1024 * 1024),
    segmentMaxAgeMs: positiveInt('segmentMaxAgeMs', options.segmentMaxAgeMs, 24 * 60 * 60 * 1000),
    retentionMs:
      options.retentionMs === undefined || options.retentionMs === 0
        ? 0
        : positiveInt('retentionMs', options.retentionMs, 0),
    retention:
      options.retention === undefined ? undefined : normaliseRetentionPolicy(options.retention),
    pruneEveryMs:
      options.pruneEveryMs === undefined || options.pruneEveryMs === 0
        ? 0
        : positiveInt('pruneEveryMs', options.pruneEveryMs, 0),
    onNotice: options.onNotice ?? (() => {}),
    fs: options.fs ?? nodeFsLayer,
    now: options.now ?? systemNow,
  };
}
