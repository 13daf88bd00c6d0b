/**
 * The worker behind `SegmentReader`: reads a segment file into a shared buffer, summarises it
 * there (SHA-256, seq and time range, runs) and answers with the summary, so that the pushing
 * thread only sends and no segment-sized buffer is allocated per segment. One message in, one
 * out: `{ id, file, slot? }` → `{ id, slot, length, summary }` or `{ id, error }`. A `slot`
 * smaller than the file (or none) is replaced by a new one, sent back in its place.
 */
import * as fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { summariseSegment } from './segment-summary.js';

const port = parentPort;
if (!port) throw new Error('summary-worker.js runs as a worker thread (see segment-reader.ts)');

/** Slots grow in steps of 1 MiB, so that segments of about one size share them. */
const STEP = 1024 * 1024;

port.on('message', ({ id, file, slot }: { id: number; file: string; slot?: SharedArrayBuffer }) => {
  try {
    const fd = fs.openSync(file, 'r');
    let length = 0;
    try {
      const size = fs.fstatSync(fd).size;
      if (!slot || slot.byteLength < size)
        slot = new SharedArrayBuffer(Math.ceil(size / STEP) * STEP || STEP);
      const view = Buffer.from(slot, 0, size);
      while (length < size) {
        const n = fs.readSync(fd, view, length, size - length, length);
        if (n === 0) break;
        length += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    const summary = summariseSegment(Buffer.from(slot, 0, length));
    port.postMessage({ id, slot, length, summary });
  } catch (error) {
    port.postMessage({ id, error: (error as Error).message });
  }
});
