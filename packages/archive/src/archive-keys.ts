import type { ArchiveLocation } from './archive-location.js';

/**
 * The archive's key layout. Every store is under its origin (the random 128-bit id in its
 * first segment header), so keys of different hosts and stores never collide:
 *
 *   <prefix>stores/<origin>/segments/<NNNNNNNN>.jsonl      a sealed segment, byte for byte
 *   <prefix>stores/<origin>/heads/<NNNNNNNN>.jsonl         the first records (header and the
 *                                                          checkpoint signing everything before
 *                                                          it) of the segment after the last sealed
 *   <prefix>stores/<origin>/pushes/<NNNNNNNN>.json         push manifest n (the cursor)
 *   <prefix>stores/<origin>/checkpoints/<NNNNNNNN>.jsonl   checkpoints.jsonl as of push n
 *   <prefix>stores/<origin>/keys/<keyId>.pem               the store's public key(s)
 *   <prefix>stores/<origin>/recovered/<name>               the store's recovery records
 *   <prefix>index/<YYYY-MM-DD>/<origin>-<NNNNNNNN>.json     run index of push n (rebuildable),
 *                                                          filed under the day it was written
 *   <prefix>index/<YYYY-MM-DD>/<origin>-<NNNNNNNN>-r<RR>.json  revision RR (01-99) of that index,
 *                                                          written by `archive reindex` when the
 *                                                          one before it differs from the push's
 *                                                          segments; the highest revision wins
 *   <prefix>index/<YYYY-MM-DD>/rollup/<SS>.json            that day's push indexes merged, runs of
 *                                                          principal shard SS of 16 (rebuildable)
 *   <prefix>index/<YYYY-MM-DD>/rollup/run-<SS>.json        the same, where the runs of run-id shard
 *                                                          SS of 16 are (origin, segments)
 */
export const PAD = 8;

export function pad(n: number): string {
  return String(n).padStart(PAD, '0');
}

export function storePrefix(loc: ArchiveLocation, origin: string): string {
  return `${loc.prefix}stores/${origin}/`;
}

export const archiveKeys = {
  segment: (loc: ArchiveLocation, origin: string, segment: number) =>
    `${storePrefix(loc, origin)}segments/${pad(segment)}.jsonl`,
  head: (loc: ArchiveLocation, origin: string, segment: number) =>
    `${storePrefix(loc, origin)}heads/${pad(segment)}.jsonl`,
  push: (loc: ArchiveLocation, origin: string, push: number) =>
    `${storePrefix(loc, origin)}pushes/${pad(push)}.json`,
  checkpoints: (loc: ArchiveLocation, origin: string, push: number) =>
    `${storePrefix(loc, origin)}checkpoints/${pad(push)}.jsonl`,
  publicKey: (loc: ArchiveLocation, origin: string, keyId: string) =>
    `${storePrefix(loc, origin)}keys/${keyId.replace(/[^A-Za-z0-9_-]/g, '_')}.pem`,
  recovered: (loc: ArchiveLocation, origin: string, name: string) =>
    `${storePrefix(loc, origin)}recovered/${name}`,
  index: (loc: ArchiveLocation, day: string, origin: string, push: number, revision = 0) =>
    `${loc.prefix}index/${day}/${origin}-${pad(push)}${revision > 0 ? `-r${String(revision).padStart(2, '0')}` : ''}.json`,
  rollup: (loc: ArchiveLocation, day: string, shard: number) =>
    `${loc.prefix}index/${day}/rollup/${String(shard).padStart(2, '0')}.json`,
  runRollup: (loc: ArchiveLocation, day: string, shard: number) =>
    `${loc.prefix}index/${day}/rollup/run-${String(shard).padStart(2, '0')}.json`,
};

/** What a key under the archive prefix is; `unknown` for anything the pusher never writes. */
export type ParsedKey =
  | { kind: 'segment'; origin: string; n: number }
  | { kind: 'head'; origin: string; n: number }
  | { kind: 'push'; origin: string; n: number }
  | { kind: 'checkpoints'; origin: string; n: number }
  | { kind: 'key'; origin: string; name: string }
  | { kind: 'recovered'; origin: string; name: string }
  | { kind: 'index'; origin: string; n: number; day: string; revision: number }
  | { kind: 'rollup'; day: string; shard: number }
  | { kind: 'run-rollup'; day: string; shard: number }
  | { kind: 'unknown' };

const STORE_KEY =
  /^stores\/([0-9a-f]{32})\/(?:segments\/(\d{8})\.jsonl|heads\/(\d{8})\.jsonl|pushes\/(\d{8})\.json|checkpoints\/(\d{8})\.jsonl|keys\/([A-Za-z0-9_-]+\.pem)|recovered\/([^/]+))$/;
const ROLLUP_KEY = /^index\/(\d{4}-\d{2}-\d{2})\/rollup\/(run-)?(\d{2})\.json$/;
const INDEX_KEY = /^index\/(\d{4}-\d{2}-\d{2})\/([0-9a-f]{32})-(\d{8})(?:-r(\d{2}))?\.json$/;

export function parseKey(loc: ArchiveLocation, key: string): ParsedKey {
  if (!key.startsWith(loc.prefix)) return { kind: 'unknown' };
  const rest = key.slice(loc.prefix.length);
  const s = STORE_KEY.exec(rest);
  if (s) {
    const origin = s[1]!;
    if (s[2]) return { kind: 'segment', origin, n: Number(s[2]) };
    if (s[3]) return { kind: 'head', origin, n: Number(s[3]) };
    if (s[4]) return { kind: 'push', origin, n: Number(s[4]) };
    if (s[5]) return { kind: 'checkpoints', origin, n: Number(s[5]) };
    if (s[6]) return { kind: 'key', origin, name: s[6] };
    return { kind: 'recovered', origin, name: s[7]! };
  }
  const r = ROLLUP_KEY.exec(rest);
  if (r) return { kind: r[2] ? 'run-rollup' : 'rollup', day: r[1]!, shard: Number(r[3]) };
  const i = INDEX_KEY.exec(rest);
  if (i)
    return {
      kind: 'index',
      day: i[1]!,
      origin: i[2]!,
      n: Number(i[3]),
      revision: Number(i[4] ?? 0),
    };
  return { kind: 'unknown' };
}
