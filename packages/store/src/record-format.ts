import { hash as oneShotHash } from 'node:crypto';
import type { RecordType } from './types.js';

/**
 * The on-disk record is the RFC 8785 canonical JSON of
 * `{hash, payload, prev, seq, tags, time, type}` followed by `\n`. Canonical order sorts
 * `hash` first, so every line starts with the fixed 75 bytes `{"hash":"<64 hex>",` and the
 * record without its hash is exactly `{` + the rest of the line. That lets verify hash the
 * bytes as they are on disk, never re-serialising: a re-serialised line changes the bytes and
 * fails. See docs/store-format.md.
 */
export const FORMAT_VERSION = 'agent-audit-store/1';
export const GENESIS_HASH = '0'.repeat(64);
export const HASH_HEX_LENGTH = 64;
/** `{"hash":"` */
const HEAD = Buffer.from('{"hash":"');
/** Offset of the `,` that precedes `"payload":`; the hashed bytes start here with `{`. */
export const BODY_OFFSET = 74;
const PAYLOAD_KEY = Buffer.from('"payload":');
const TYPE_KEY = Buffer.from(',"type":"');
const TIME_KEY = Buffer.from(',"time":"');
const TAGS_KEY = Buffer.from(',"tags":{');
const SEQ_KEY = Buffer.from(',"seq":');
const PREV_KEY = Buffer.from(',"prev":"');
const MIN_LINE = 75 + PAYLOAD_KEY.length + 4 + PREV_KEY.length + 65 + SEQ_KEY.length + 1;

export const RECORD_TYPES: ReadonlySet<string> = new Set<RecordType>([
  'span.start',
  'span.end',
  'event',
  'alert',
  'segment.open',
  'segment.seal',
  'checkpoint',
  'recovery',
  'prune',
  'store.close',
  'session.open',
  'loss',
  'retention.policy',
]);

export interface EncodedRecord {
  seq: number;
  hash: string;
  /** The full line, newline included. */
  line: string;
}

/**
 * Encode one record. `payloadJson` and `tagsJson` are already canonical JSON; the envelope
 * is assembled by hand in canonical member order, which is cheaper than canonicalising the
 * whole record again and yields the identical bytes.
 */
export function encodeRecord(
  prev: string,
  seq: number,
  time: string,
  type: RecordType,
  tagsJson: string,
  payloadJson: string,
): EncodedRecord {
  // time is an ISO-8601 string and type a fixed token: neither needs JSON escaping.
  const body = `"payload":${payloadJson},"prev":"${prev}","seq":${seq},"tags":${tagsJson},"time":"${time}","type":"${type}"}`;
  const hash = oneShotHash('sha256', `{${body}`, 'hex');
  return { seq, hash, line: `{"hash":"${hash}",${body}\n` };
}

export interface BatchEntry {
  time: string;
  type: RecordType;
  tagsJson: string;
  payloadJson: string;
}

/** Bytes of a line besides payload and tags: prefix, member names, prev, seq, time, type. */
const LINE_OVERHEAD = 320;
const LINE_HEAD = Buffer.from(
  '{"hash":"0000000000000000000000000000000000000000000000000000000000000000","payload":',
);

/**
 * A reusable output buffer for `encodeBatch`. The writer encodes every append into the same
 * memory and hands it to a synchronous write, so the hot path allocates no buffer per record.
 * It grows up to `SCRATCH_MAX_BYTES`; a larger batch gets a buffer of its own, so one big
 * `appendBatch` does not pin its size for the life of the store.
 */
export class EncodeScratch {
  buf: Buffer = Buffer.allocUnsafe(64 * 1024);

  /** A buffer of at least `bytes`, reusing the current one when it is large enough. */
  reserve(bytes: number): Buffer {
    if (this.buf.length >= bytes) return this.buf;
    if (bytes > SCRATCH_MAX_BYTES) return Buffer.allocUnsafe(bytes);
    this.buf = Buffer.allocUnsafe(
      Math.min(SCRATCH_MAX_BYTES, Math.max(bytes, this.buf.length * 2)),
    );
    return this.buf;
  }
}

const SCRATCH_MAX_BYTES = 1024 * 1024;

/**
 * Encode a run of records straight into one buffer (the group-commit write): each body is
 * UTF-8 encoded once and hashed from the buffer, instead of building, flattening and encoding
 * every line as a string twice. Produces exactly the bytes of `encodeRecord`.
 *
 * With `scratch`, the returned `buf` is a view of its memory, valid until the next call.
 */
export function encodeBatch(
  entries: readonly BatchEntry[],
  prev: string,
  seq: number,
  scratch?: EncodeScratch,
): { buf: Buffer; records: Array<{ seq: number; hash: string }> } {
  // UTF-8 needs at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units),
  // so this bound needs no Buffer.byteLength pass over the texts.
  let capacity = 0;
  for (const e of entries)
    capacity += 3 * (e.payloadJson.length + e.tagsJson.length) + LINE_OVERHEAD;
  const buf = scratch ? scratch.reserve(capacity) : Buffer.allocUnsafe(capacity);
  const records: Array<{ seq: number; hash: string }> = [];
  let pos = 0;
  for (const e of entries) {
    seq += 1;
    const lineStart = pos;
    LINE_HEAD.copy(buf, pos);
    pos += LINE_HEAD.length;
    pos += buf.write(e.payloadJson, pos, 'utf8');
    pos += buf.write(
      `,"prev":"${prev}","seq":${seq},"tags":${e.tagsJson},"time":"${e.time}","type":"${e.type}"}`,
      pos,
      'utf8',
    );
    const hash = computeLineHash(buf, lineStart, pos);
    buf.write(hash, lineStart + 9, 'latin1');
    buf[pos++] = 0x0a;
    records.push({ seq, hash });
    prev = hash;
  }
  return { buf: buf.subarray(0, pos), records };
}

/** The hash a line should carry, computed from its bytes (newline excluded). */
export function computeLineHash(buf: Buffer, start: number, end: number): string {
  // Hash `{` + bytes after the hash member without copying: borrow the `,` in front of
  // `"payload":` for the `{` and put it back. One-shot hashing is ~2x faster per small
  // record than createHash().update().digest().
  const saved = buf[start + BODY_OFFSET]!;
  buf[start + BODY_OFFSET] = 0x7b;
  try {
    return oneShotHash('sha256', buf.subarray(start + BODY_OFFSET, end), 'hex');
  } finally {
    buf[start + BODY_OFFSET] = saved;
  }
}

export interface Envelope {
  hash: string;
  prev: string;
  seq: number;
  time: string;
  type: string;
  /** Byte ranges inside the buffer given to `parseEnvelope`. */
  payloadStart: number;
  payloadEnd: number;
  tagsStart: number;
  tagsEnd: number;
}

/**
 * Locate the envelope members of a canonical line by bytes, without JSON.parse: members
 * after `payload` are found from the end of the line. A quote inside a JSON string is always
 * escaped, so `,"type":"`, `,"time":"`, `,"tags":{` cannot occur inside a tag value, and tag
 * values are strings only, so nothing between `,"tags":{` and `,"time":"` can fake them.
 * Returns a reason string when the line is not a well-formed record envelope.
 */
export function parseEnvelope(
  buf: Buffer,
  start: number,
  end: number,
  /**
   * Accept a type that is not in `RECORD_TYPES` when it is a well-formed token (lowercase
   * letters and dots): verify reports it as `RECORD_TYPE_UNKNOWN` instead of malformed.
   */
  anyType = false,
): Envelope | string {
  // Hot in verify, reader and index: fixed-position checks are JS byte loops (no native
  // call per check); only the variable-length tags member is searched for.
  if (end - start < MIN_LINE) return 'line too short to be a record';
  if (!bytesAt(buf, start, HEAD)) return 'line does not start with the hash member';
  if (buf[start + 73] !== 0x22 || buf[start + 74] !== 0x2c) return 'hash member malformed';
  if (!bytesAt(buf, start + 75, PAYLOAD_KEY)) return 'payload member missing after hash';
  if (buf[end - 1] !== 0x7d || buf[end - 2] !== 0x22) {
    return 'line does not end with the type member';
  }
  // The type value is a short token of [a-z.]: walk back to its opening quote.
  let q = end - 3;
  while (q > end - 3 - MAX_TYPE_LENGTH && buf[q] !== 0x22) q--;
  const typePos = q - (TYPE_KEY.length - 1);
  if (buf[q] !== 0x22 || typePos < start || !bytesAt(buf, typePos, TYPE_KEY)) {
    return 'type member missing';
  }
  if (buf[typePos - 1] !== 0x22) return 'time member missing';
  // ISO times from toISOString are 24 characters; anything else is searched for.
  let timePos = typePos - 1 - 24 - TIME_KEY.length;
  if (timePos < start || !bytesAt(buf, timePos, TIME_KEY)) {
    timePos = lastIndexWithin(buf, TIME_KEY, start, typePos);
    if (timePos < 0) return 'time member missing';
  }
  const tagsPos = lastIndexWithin(buf, TAGS_KEY, start, timePos);
  if (tagsPos < 0 || buf[timePos - 1] !== 0x7d) return 'tags member missing';
  // seq digits directly precede the tags member.
  let digitsStart = tagsPos;
  while (digitsStart > start && buf[digitsStart - 1]! >= 0x30 && buf[digitsStart - 1]! <= 0x39) {
    digitsStart--;
  }
  const seqPos = digitsStart - SEQ_KEY.length;
  if (seqPos < start || !bytesAt(buf, seqPos, SEQ_KEY)) return 'seq member missing';
  const prevPos = seqPos - PREV_KEY.length - HASH_HEX_LENGTH - 1;
  if (
    prevPos < start + 75 + PAYLOAD_KEY.length ||
    !bytesAt(buf, prevPos, PREV_KEY) ||
    buf[seqPos - 1] !== 0x22
  ) {
    return 'prev member missing';
  }
  if (digitsStart === tagsPos) return 'seq is empty';
  if (buf[digitsStart] === 0x30 && tagsPos - digitsStart > 1) return 'seq has a leading zero';
  if (tagsPos - digitsStart > 15) return 'seq too large';
  let seq = 0;
  for (let i = digitsStart; i < tagsPos; i++) seq = seq * 10 + (buf[i]! - 0x30);
  const type = buf.toString('latin1', typePos + TYPE_KEY.length, end - 2);
  if (!RECORD_TYPES.has(type) && !(anyType && TYPE_TOKEN.test(type))) {
    return `unknown record type ${JSON.stringify(type)}`;
  }
  return {
    hash: buf.toString('latin1', start + 9, start + 73),
    prev: buf.toString('latin1', prevPos + PREV_KEY.length, seqPos - 1),
    seq,
    time: buf.toString('utf8', timePos + TIME_KEY.length, typePos - 1),
    type,
    payloadStart: start + 75 + PAYLOAD_KEY.length,
    payloadEnd: prevPos,
    tagsStart: tagsPos + TAGS_KEY.length - 1,
    tagsEnd: timePos,
  };
}

/** Longest record type token (`segment.open`), with room to spare. */
const MAX_TYPE_LENGTH = 16;
const TYPE_TOKEN = /^[a-z]+(\.[a-z]+)*$/;

function bytesAt(buf: Buffer, pos: number, needle: Buffer): boolean {
  if (pos < 0 || pos + needle.length > buf.length) return false;
  for (let i = 0; i < needle.length; i++) if (buf[pos + i] !== needle[i]) return false;
  return true;
}

function lastIndexWithin(buf: Buffer, needle: Buffer, start: number, before: number): number {
  const from = before - needle.length;
  if (from < start) return -1;
  const at = buf.lastIndexOf(needle, from);
  return at >= start ? at : -1;
}

const HEX64 = /^[0-9a-f]{64}$/;
export function isHashHex(value: string): boolean {
  return HEX64.test(value);
}
