import * as fs from 'node:fs';
import { canonicalJson } from './canonical-json.js';
import { checkpointShapeProblem } from './checkpoint.js';
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
