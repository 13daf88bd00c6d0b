import { isUtf8 } from 'node:buffer';

/**
 * A one-pass byte check that a record line is the RFC 8785 canonical JSON of a record, without
 * building any value: no whitespace, strings escaped exactly as `JSON.stringify` escapes them
 * (and valid UTF-8 otherwise), numbers in ECMAScript shortest form, object members sorted by
 * UTF-16 code units without duplicates, the record's seven members and string-valued tags.
 *
 * Parsing and re-serialising decides the same thing (`canonicalProblem` does, and confirms
 * every rejection from here) at about five times the cost of hashing a record; this scan
 * costs about as much as the hash, which keeps record-by-record verification near the speed
 * of reading the bytes. Returns false as soon as anything differs.
 */

const RECORD_KEYS = ['hash', 'payload', 'prev', 'seq', 'tags', 'time', 'type'].map((k) =>
  Buffer.from(`"${k}"`),
);
const MAX_DEPTH = 512;

export function isCanonicalRecordLine(buf: Buffer, start: number, end: number): boolean {
  // One native pass: the bytes are UTF-8 (no surrogates, no overlong forms), so the scan
  // inside strings only looks for quotes, backslashes and raw control characters.
  if (!isUtf8(buf.subarray(start, end))) return false;
  const s = new Scan(buf, end);
  let pos = start;
  if (buf[pos++] !== 0x7b) return false;
  for (let i = 0; i < RECORD_KEYS.length; i++) {
    const key = RECORD_KEYS[i]!;
    if (i > 0 && buf[pos++] !== 0x2c) return false;
    if (!bytesAt(buf, pos, key, end)) return false;
    pos += key.length;
    if (buf[pos++] !== 0x3a) return false;
    pos = i === 4 ? s.tags(pos) : s.value(pos, 0);
    if (pos < 0) return false;
  }
  return buf[pos] === 0x7d && pos + 1 === end;
}

class Scan {
  readonly buf: Buffer;
  readonly end: number;

  constructor(buf: Buffer, end: number) {
    this.buf = buf;
    this.end = end;
  }

  /** Position after the value starting at `pos`, or -1. */
  value(pos: number, depth: number): number {
    const b = this.buf[pos];
    if (b === 0x22) return this.string(pos);
    if (b === 0x7b) return this.object(pos, depth + 1);
    if (b === 0x5b) return this.array(pos, depth + 1);
    if (b === 0x74) return this.literal(pos, TRUE);
    if (b === 0x66) return this.literal(pos, FALSE);
    if (b === 0x6e) return this.literal(pos, NULL);
    if (b === 0x2d || (b !== undefined && b >= 0x30 && b <= 0x39)) return this.number(pos);
    return -1;
  }

  literal(pos: number, bytes: Buffer): number {
    return bytesAt(this.buf, pos, bytes, this.end) ? pos + bytes.length : -1;
  }

  number(pos: number): number {
    const buf = this.buf;
    let p = pos;
    let plain = true; // an integer without sign, exponent or fraction
    while (p < this.end) {
      const b = buf[p]!;
      if (b >= 0x30 && b <= 0x39) {
        p++;
      } else if (b === 0x2d || b === 0x2b || b === 0x2e || b === 0x65 || b === 0x45) {
        plain = false;
        p++;
      } else {
        break;
      }
    }
    const length = p - pos;
    if (plain && length <= 15 && (buf[pos] !== 0x30 || length === 1)) return p;
    const token = buf.toString('latin1', pos, p);
    const n = Number(token);
    return Number.isFinite(n) && String(n) === token ? p : -1;
  }

  /** The bytes are known to be UTF-8: only quotes, escapes and raw controls matter. */
  string(pos: number): number {
    const buf = this.buf;
    const end = this.end;
    for (let p = pos + 1; p < end; p++) {
      const b = buf[p]!;
      if (b === 0x22) return p + 1;
      if (b === 0x5c) {
        p = this.escape(p);
        if (p < 0) return -1;
        p -= 1; // the loop steps past the escape
      } else if (b < 0x20) {
        return -1;
      }
    }
    return -1;
  }

  /** An escape at `p` (the backslash) as JSON.stringify writes it; position after it, or -1. */
  escape(p: number): number {
    const e = this.buf[p + 1];
    if (e === 0x22 || e === 0x5c || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72) {
      return p + 2;
    }
    if (e === 0x74) return p + 2;
    if (e !== 0x75) return -1; // includes `\/`, which JSON.stringify never writes
    const v = hex4(this.buf, p + 2, this.end);
    if (v < 0) return -1;
    if (v < 0x20) {
      // \b \t \n \f \r have short forms.
      return v === 0x08 || v === 0x09 || v === 0x0a || v === 0x0c || v === 0x0d ? -1 : p + 6;
    }
    if (v >= 0xd800 && v <= 0xdbff) {
      // A lone high surrogate is escaped; one followed by a low surrogate is a character,
      // which JSON.stringify writes as UTF-8.
      if (this.buf[p + 6] === 0x5c && this.buf[p + 7] === 0x75) {
        const next = hex4(this.buf, p + 8, this.end);
        if (next >= 0xdc00 && next <= 0xdfff) return -1;
      }
      return p + 6;
    }
    if (v >= 0xdc00 && v <= 0xdfff) return p + 6; // lone low surrogate
    return -1;
  }

  object(pos: number, depth: number): number {
    if (depth > MAX_DEPTH) return -1;
    const buf = this.buf;
    let p = pos + 1;
    if (buf[p] === 0x7d) return p + 1;
    let prevKey = -1;
    let prevKeyEnd = -1;
    for (;;) {
      if (buf[p] !== 0x22) return -1;
      const keyEnd = this.string(p);
      if (keyEnd < 0) return -1;
      if (prevKey >= 0 && !keyBefore(buf, prevKey, prevKeyEnd, p, keyEnd)) return -1;
      prevKey = p;
      prevKeyEnd = keyEnd;
      p = keyEnd;
      if (buf[p++] !== 0x3a) return -1;
      p = this.value(p, depth);
      if (p < 0) return -1;
      const b = buf[p++];
      if (b === 0x7d) return p;
      if (b !== 0x2c) return -1;
    }
  }

  array(pos: number, depth: number): number {
    if (depth > MAX_DEPTH) return -1;
    const buf = this.buf;
    let p = pos + 1;
    if (buf[p] === 0x5d) return p + 1;
    for (;;) {
      p = this.value(p, depth);
      if (p < 0) return -1;
      const b = buf[p++];
      if (b === 0x5d) return p;
      if (b !== 0x2c) return -1;
    }
  }

  /** The tags member: an object whose values are all strings. */
  tags(pos: number): number {
    const buf = this.buf;
    if (buf[pos] !== 0x7b) return -1;
    let p = pos + 1;
    if (buf[p] === 0x7d) return p + 1;
    let prevKey = -1;
    let prevKeyEnd = -1;
    for (;;) {
      if (buf[p] !== 0x22) return -1;
      const keyEnd = this.string(p);
      if (keyEnd < 0) return -1;
      if (prevKey >= 0 && !keyBefore(buf, prevKey, prevKeyEnd, p, keyEnd)) return -1;
      prevKey = p;
      prevKeyEnd = keyEnd;
      p = keyEnd;
      if (buf[p++] !== 0x3a || buf[p] !== 0x22) return -1;
      p = this.string(p);
      if (p < 0) return -1;
      const b = buf[p++];
      if (b === 0x7d) return p;
      if (b !== 0x2c) return -1;
    }
  }
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

function hex4(buf: Buffer, p: number, end: number): number {
  if (p + 4 > end) return -1;
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const c = buf[p + i]!;
    // Lowercase only: JSON.stringify writes \u001f, not \u001F.
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Whether `needle` is at `pos` (byte loops: a native call per short compare costs more). */
function bytesAt(buf: Buffer, pos: number, needle: Buffer, end: number): boolean {
  if (pos + needle.length > end) return false;
  for (let i = 0; i < needle.length; i++) if (buf[pos + i] !== needle[i]) return false;
  return true;
}

/** Whether key a sorts strictly before key b in UTF-16 code units (JCS member order). */
function keyBefore(buf: Buffer, a: number, aEnd: number, b: number, bEnd: number): boolean {
  // Between the quotes; plain ASCII (nearly all keys) compares byte by byte, and a key that
  // is a prefix of the other sorts first.
  const aLast = aEnd - 1;
  const bLast = bEnd - 1;
  let i = a + 1;
  let j = b + 1;
  while (i < aLast && j < bLast) {
    const x = buf[i]!;
    const y = buf[j]!;
    if (x >= 0x80 || y >= 0x80 || x === 0x5c || y === 0x5c) {
      const ka = JSON.parse(buf.toString('utf8', a, aEnd)) as string;
      const kb = JSON.parse(buf.toString('utf8', b, bEnd)) as string;
      return ka < kb;
    }
    if (x !== y) return x < y;
    i++;
    j++;
  }
  return i === aLast && j < bLast;
}
