import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonicalJson } from '../src/canonical-json.js';
import { signCheckpoint } from '../src/checkpoint.js';
import { encodeRecord } from '../src/record-format.js';
import { signStatement } from '../src/signed-statement.js';
import { keyIdOf } from '../src/signing-keys.js';
import type { RecordType } from '../src/types.js';
import { readLines, writeLines } from './helpers.js';

/**
 * What someone with write access to a store directory can do at the byte level: append
 * correctly chained records of any type, and rewrite lines while keeping the chain linked
 * without re-canonicalising them. Signatures come from whatever key the caller holds.
 */

export interface Signer {
  privateKey: KeyObject;
  keyId: string;
}

/** The store's own key (from its trust directory): statements the writer could have made. */
export function trustSigner(trustDir: string): Signer {
  const privateKey = createPrivateKey(fs.readFileSync(path.join(trustDir, 'signing-key.pem')));
  return { privateKey, keyId: keyIdOf(createPublicKey(privateKey)) };
}

export function newestSegment(dir: string): string {
  const segDir = path.join(dir, 'segments');
  const names = fs.readdirSync(segDir).filter((f) => /^\d{8}\.jsonl$/.test(f));
  return path.join(segDir, names.sort().at(-1)!);
}

/** seq and hash of the store's last record, and its origin. */
export function head(dir: string): { seq: number; hash: string; origin: string } {
  const lines = readLines(newestSegment(dir));
  const last = JSON.parse(lines.at(-1)!) as { seq: number; hash: string };
  const header = JSON.parse(lines[0]!) as { payload: { origin: string } };
  return { seq: last.seq, hash: last.hash, origin: header.payload.origin };
}

/** Append one correctly chained record to the newest segment; returns its seq and hash. */
export function appendRaw(
  dir: string,
  type: string,
  payload: unknown,
  tags: Record<string, string> = {},
  time = new Date().toISOString(),
): { seq: number; hash: string } {
  const h = head(dir);
  const record = encodeRecord(
    h.hash,
    h.seq + 1,
    time,
    type as RecordType,
    canonicalJson(tags),
    canonicalJson(payload),
  );
  const file = newestSegment(dir);
  fs.chmodSync(file, 0o644);
  fs.appendFileSync(file, record.line);
  return { seq: record.seq, hash: record.hash };
}

/** A signed statement body of `signer` for this store. */
export function statement<T extends Record<string, unknown>>(
  dir: string,
  signer: Signer,
  body: T,
  origin = head(dir).origin,
) {
  return signStatement(
    { origin, keyId: signer.keyId, time: new Date().toISOString(), ...body },
    signer.privateKey,
  );
}

/** Append a chained checkpoint record signing the current head. */
export function appendCheckpoint(dir: string, signer: Signer): { seq: number; hash: string } {
  const h = head(dir);
  const cp = signCheckpoint(
    {
      origin: h.origin,
      size: h.seq,
      head: h.hash,
      time: new Date().toISOString(),
      keyId: signer.keyId,
    },
    signer.privateKey,
  );
  return appendRaw(dir, 'checkpoint', cp);
}

/**
 * Replace line `index` of a segment by `line` (any bytes), then re-link every later line of
 * that segment by bytes: `prev` set to the hash before it and `hash` recomputed over the bytes
 * as they are (`{` + line[75..]), never re-serialising. The formula of docs/store-format.md.
 */
export function replaceLineRaw(file: string, index: number, line: string): void {
  const lines = readLines(file);
  lines[index] = line;
  for (let i = index; i < lines.length; i++) {
    let l = lines[i]!;
    if (i > index) {
      const prev = JSON.parse(lines[i - 1]!).hash as string;
      l = l.replace(/,"prev":"[0-9a-f]{64}"/, `,"prev":"${prev}"`);
    }
    lines[i] = withHash(l);
  }
  writeLines(file, lines);
}

/** The line with its hash member recomputed over its own bytes. */
export function withHash(line: string): string {
  const hash = lineHash(line);
  return `{"hash":"${hash}"${line.slice(74)}`;
}

/** `lowercase_hex(SHA-256("{" || line[75 .. end]))`, on the line's UTF-8 bytes. */
export function lineHash(line: string): string {
  const bytes = Buffer.from(line, 'utf8');
  return createHash('sha256')
    .update(Buffer.concat([Buffer.from('{'), bytes.subarray(75)]))
    .digest('hex');
}
