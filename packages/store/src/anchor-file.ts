import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonicalJson } from './canonical-json.js';
import { checkpointShapeProblem } from './checkpoint.js';
import { type FsLayer, fsyncDirSync, noFollow, writeFullySync } from './fs-layer.js';
import { STORE_CHECKPOINTS_FILE } from './store-paths.js';
import type { SignedCheckpoint } from './types.js';

/**
 * A checkpoint as written to an anchor file or to the store's own `checkpoints.jsonl`: the
 * signed checkpoint plus `store`, the absolute store directory it came from (informational,
 * not signed; lets a writer notice that a store directory was emptied behind its anchor).
 */
export interface AnchorEntry extends SignedCheckpoint {
  store?: string;
}

export function anchorLine(checkpoint: SignedCheckpoint, store: string): string {
  return `${canonicalJson({ ...checkpoint, store })}\n`;
}

export interface AnchorRead {
  entries: Array<AnchorEntry & { line: number }>;
  /** 1-based line numbers that are not well-formed checkpoints. */
  malformed: number[];
  /** True when the file ends without a newline (a torn append). */
  tornTail: boolean;
}

/** Read an anchor-format file; a missing file reads as `undefined`. */
export function readAnchorFile(file: string): AnchorRead | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return parseAnchorText(text);
}

/**
 * Parse the text of an anchor-format file (see `readAnchorFile`). A last line without its
 * newline is read like any other: complete, it is a checkpoint (an anchor copied by hand often
 * lacks the final newline; the writer starts its next line on a fresh line); cut short by a
 * crash mid-append, it is reported as malformed.
 */
export function parseAnchorText(text: string): AnchorRead {
  const result: AnchorRead = { entries: [], malformed: [], tornTail: false };
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  else result.tornTail = true;
  lines.forEach((line, i) => {
    if (line.length === 0) return;
    try {
      const value = JSON.parse(line) as AnchorEntry;
      if (checkpointShapeProblem(value) === undefined) {
        result.entries.push({ ...value, line: i + 1 });
        return;
      }
    } catch {
      // fall through
    }
    result.malformed.push(i + 1);
  });
  return result;
}

/**
 * Append `line` to each anchor-format file (the store's `checkpoints.jsonl`, then the anchor)
 * and fdatasync it, synchronously: for open, rotation at open, and exit handlers.
 */
export function appendAnchorLinesSync(
  layer: FsLayer,
  files: readonly string[],
  line: Buffer,
): void {
  for (const file of files) {
    const open = openAndAppend(layer, file, line);
    try {
      layer.fdatasyncSync(open.fd);
    } finally {
      layer.closeSync(open.fd);
    }
    if (open.created) fsyncDirSync(layer, path.dirname(file));
  }
}

/** As `appendAnchorLinesSync`, with the fdatasyncs on the thread pool (off the commit path). */
export async function appendAnchorLines(
  layer: FsLayer,
  files: readonly string[],
  line: Buffer,
): Promise<void> {
  for (const file of files) {
    const open = openAndAppend(layer, file, line);
    try {
      await layer.fdatasync(open.fd);
    } finally {
      layer.closeSync(open.fd);
    }
    if (open.created) fsyncDirSync(layer, path.dirname(file));
  }
}

/** Open an anchor-format file for appending (creating it) and write `line` at its end. */
function openAndAppend(
  layer: FsLayer,
  file: string,
  line: Buffer,
): { fd: number; created: boolean } {
  let created = false;
  let fd: number;
  // The store's own checkpoints.jsonl is never written through a symlink planted in the store
  // (O_NOFOLLOW, STORE_SYMLINK); the anchor lives in the trust directory, outside the store.
  const inStore = path.basename(file) === STORE_CHECKPOINTS_FILE;
  try {
    fd = layer.openSync(file, 'ax', 0o600);
    created = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      layer.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      fd = layer.openSync(file, 'ax', 0o600);
      created = true;
    } else if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      fd = layer.openSync(file, inStore ? noFollow('a+') : 'a+');
    } else {
      throw error;
    }
  }
  try {
    let size = fs.fstatSync(fd).size;
    if (size > 0) {
      // A crash mid-append can leave a line without its newline: start on a fresh line.
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) {
        writeFullySync(layer, fd, Buffer.from('\n'), size);
        size += 1;
      }
    }
    writeFullySync(layer, fd, line, size);
  } catch (error) {
    layer.closeSync(fd);
    throw error;
  }
  return { fd, created };
}
