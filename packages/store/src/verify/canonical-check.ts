import { canonicalJson } from '../canonical-json.js';
import { isCanonicalRecordLine } from './canonical-scan.js';

/**
 * Why a line whose hash matches its bytes is still not a record as the format defines it:
 * its bytes are not the RFC 8785 canonical JSON of its content (a space, an escape such as
 * `\u0041`, `1.0`, an unrounded big integer, a duplicate member, bytes that are not UTF-8),
 * or a tag value is not a string. Undefined when the line is canonical.
 *
 * Parsing and re-serialising is the plain way to decide this, and the one an independent
 * verifier would write; it costs about five times the hash, so a byte scan
 * (`canonical-scan.ts`) accepts the lines first. Verify runs this where records are hashed
 * one by one (unsealed segments, `full`), not on the sealed-segment fast path, whose bytes a
 * seal digest and a signature already tie to the writer.
 */
export function canonicalProblem(
  buf: Buffer,
  start: number,
  end: number,
): { code: 'RECORD_NOT_CANONICAL' | 'RECORD_MALFORMED'; why: string } | undefined {
  // The byte scan accepts nearly every line at about the cost of its hash; what it rejects
  // is decided (and explained) the plain way below, so a rejection never rests on it alone.
  if (isCanonicalRecordLine(buf, start, end)) return undefined;
  const line = buf.toString('utf8', start, end);
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { code: 'RECORD_MALFORMED', why: 'not JSON' };
  }
  if (
    record === null ||
    typeof record !== 'object' ||
    Object.keys(record).join() !== 'hash,payload,prev,seq,tags,time,type'
  ) {
    return { code: 'RECORD_MALFORMED', why: 'members other than the seven of a record' };
  }
  const tags = record.tags;
  if (tags === null || typeof tags !== 'object' || Array.isArray(tags)) {
    return { code: 'RECORD_MALFORMED', why: 'tags is not an object' };
  }
  for (const [key, value] of Object.entries(tags)) {
    if (typeof value !== 'string') {
      return {
        code: 'RECORD_MALFORMED',
        why: `tag ${JSON.stringify(key)} is a ${value === null ? 'null' : typeof value}, not a string`,
      };
    }
  }
  let canonical: string;
  try {
    canonical = canonicalJson(record);
  } catch (error) {
    return { code: 'RECORD_NOT_CANONICAL', why: (error as Error).message };
  }
  if (canonical !== line) {
    return {
      code: 'RECORD_NOT_CANONICAL',
      why: `first difference at byte ${firstDiff(canonical, line)}`,
    };
  }
  // Bytes that are not UTF-8 decode to U+FFFD on both sides: compare the bytes themselves.
  if (line.includes('\uFFFD') && !Buffer.from(canonical, 'utf8').equals(buf.subarray(start, end))) {
    return { code: 'RECORD_NOT_CANONICAL', why: 'bytes that are not UTF-8' };
  }
  return undefined;
}

function firstDiff(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return Buffer.byteLength(b.slice(0, i), 'utf8');
}
