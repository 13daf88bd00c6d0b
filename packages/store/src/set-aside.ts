import { hash as oneShotHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assertRealDir } from './custody.js';
import { type FsLayer, fsyncDirSync, noFollow, writeFullySync } from './fs-layer.js';
import { segmentFileName } from './segment-files.js';
import { RECOVERED_DIR } from './store-paths.js';

/** Where set-aside bytes went, as the `recovery` record states it. */
export interface SetAsideResult {
  offset: number;
  length: number;
  sha256: string;
  /** Store-relative path of the copy, e.g. `recovered/00000003-1024-1700000000000.torn`. */
  file: string;
}

/**
 * Copy `[from, to)` of a segment into `recovered/` (read-only, durable), and only then cut
 * the segment back to `from`. Called by the writer after recovery's checks have all passed.
 */
export function setAside(
  layer: FsLayer,
  dir: string,
  file: string,
  segment: number,
  from: number,
  to: number,
): SetAsideResult {
  const bytes = Buffer.alloc(to - from);
  const rfd = fs.openSync(file, noFollow('r'));
  try {
    fs.readSync(rfd, bytes, 0, bytes.length, from);
  } finally {
    fs.closeSync(rfd);
  }
  const recoveredDir = path.join(dir, RECOVERED_DIR);
  layer.mkdirSync(recoveredDir, { recursive: true, mode: 0o700 });
  assertRealDir(dir, recoveredDir);
  const name = `${segmentFileName(segment).replace('.jsonl', '')}-${from}-${Date.now()}.torn`;
  const target = path.join(recoveredDir, name);
  const wfd = layer.openSync(target, noFollow('wx'), 0o400);
  try {
    writeFullySync(layer, wfd, bytes, 0);
    layer.fsyncSync(wfd);
  } finally {
    layer.closeSync(wfd);
  }
  fsyncDirSync(layer, recoveredDir);
  fsyncDirSync(layer, dir);
  const sfd = layer.openSync(file, noFollow('r+'));
  try {
    layer.ftruncateSync(sfd, from);
    layer.fsyncSync(sfd);
  } finally {
    layer.closeSync(sfd);
  }
  return {
    offset: from,
    length: bytes.length,
    sha256: oneShotHash('sha256', bytes, 'hex'),
    file: path.posix.join(RECOVERED_DIR, name),
  };
}
