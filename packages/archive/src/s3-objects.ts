import { createHash } from 'node:crypto';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface LockedPut {
  /** `created` by this call, or already `present` with the same bytes. */
  status: 'created' | 'present';
  versionId?: string;
}

function isStatus(error: unknown, ...codes: number[]): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status !== undefined && codes.includes(status);
}

export function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string }).name;
  return name === 'NoSuchKey' || name === 'NotFound' || isStatus(error, 404);
}

/** The bytes of an object (a given version when `versionId`); undefined when there is none. */
export async function getBytes(
  client: S3Client,
  bucket: string,
  key: string,
  versionId?: string,
): Promise<Buffer | undefined> {
  return (await getObject(client, bucket, key, versionId))?.bytes;
}

/** Bytes held back from hashing until the object's last line is known (a seal line is shorter). */
const LAST_LINE_MAX = 64 * 1024;

export interface FetchedObject {
  bytes: Buffer;
  /** SHA-256 (hex) of `bytes`. */
  sha256: string;
  /**
   * With `lastLine`: SHA-256 (hex) of the bytes before the last line (where a sealed
   * segment's seal starts), when that line is shorter than 64 KiB and the object ends in `\n`.
   */
  beforeLastLine?: { offset: number; sha256: string };
}

/**
 * The bytes of an object and their SHA-256, hashed as they arrive and copied once into a
 * buffer of the announced length (the SDK's own collector concatenates, then `Buffer.from`
 * copied again: two copies and the garbage of a segment-sized array per object). With
 * `lastLine`, the same pass also yields the digest of the bytes before the last line, which
 * the store verifier compares with a segment's seal instead of hashing the segment again.
 */
export async function getObject(
  client: S3Client,
  bucket: string,
  key: string,
  versionId?: string,
  options: { lastLine?: boolean } = {},
): Promise<FetchedObject | undefined> {
  let res: GetObjectCommandOutput;
  try {
    res = await client.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }),
    );
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  const hold = options.lastLine ? LAST_LINE_MAX : 0;
  const hash = createHash('sha256');
  const size = res.ContentLength;
  let bytes = size !== undefined && size >= 0 ? Buffer.allocUnsafe(size) : Buffer.alloc(0);
  const extra: Uint8Array[] = [];
  let filled = 0;
  let hashed = 0;
  for await (const chunk of res.Body as AsyncIterable<Uint8Array>) {
    if (extra.length === 0 && filled + chunk.length <= bytes.length) {
      bytes.set(chunk, filled);
      filled += chunk.length;
      if (filled - hold > hashed) {
        hash.update(bytes.subarray(hashed, filled - hold));
        hashed = filled - hold;
      }
    } else {
      extra.push(chunk);
    }
  }
  if (extra.length > 0 || filled !== bytes.length) {
    // Not the length the server announced: exactly the bytes that came.
    bytes = Buffer.concat([bytes.subarray(0, filled), ...extra]);
  }
  let beforeLastLine: FetchedObject['beforeLastLine'];
  if (options.lastLine && bytes.length > 0 && bytes[bytes.length - 1] === 0x0a) {
    const offset = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
    if (offset >= hashed) {
      hash.update(bytes.subarray(hashed, offset));
      hashed = offset;
      beforeLastLine = { offset, sha256: hash.copy().digest('hex') };
    }
  }
  hash.update(bytes.subarray(hashed));
  return { bytes, sha256: hash.digest('hex'), ...(beforeLastLine ? { beforeLastLine } : {}) };
}

/**
 * Write an object once, locked: COMPLIANCE retention until `retainUntil` sent on the PUT itself
 * (never left to a bucket default), its SHA-256 as `ChecksumSHA256` (the server refuses bytes
 * that do not match), and `If-None-Match: *` so that two pushers never write one key twice.
 * An object already there with the same bytes is success (a resumed or concurrent push); with
 * other bytes it is an error naming the key.
 *
 * One round trip in the common case: the conditional PUT itself is the existence check (the
 * server answers 412 when the key exists), so the object is read back only when it was there
 * already — a resumed push, not the steady state. `digest` is the SHA-256 of `body` when the
 * caller has it (a segment is hashed once, for its manifest and its checksum).
 */
export async function putLocked(
  client: S3Client,
  bucket: string,
  key: string,
  body: Buffer,
  retainUntil: Date,
  contentType: string,
  digest: Buffer = createHash('sha256').update(body).digest(),
): Promise<LockedPut> {
  try {
    const put = new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      ContentType: contentType,
      ContentLength: body.length,
      ChecksumSHA256: digest.toString('base64'),
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: retainUntil,
      IfNoneMatch: '*',
    });
    // SigV4 signs the payload's SHA-256 (x-amz-content-sha256, which the server checks too);
    // the signer hashes the body again unless the header is there. It is the digest we have.
    put.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers) request.headers['x-amz-content-sha256'] = digest.toString('hex');
        return next(args);
      },
      { step: 'build', name: 'agentAuditContentSha256' },
    );
    const res = await client.send(put);
    return { status: 'created', ...(res.VersionId ? { versionId: res.VersionId } : {}) };
  } catch (error) {
    // 412: the key exists (an earlier or a concurrent push); 409: a conditional write raced ours.
    if (!isStatus(error, 412, 409)) throw error;
    const raced = await sameBytes(client, bucket, key, digest);
    if (raced) return raced;
    throw error;
  }
}

/** Whether an object exists (HEAD); false on 404. */
export async function exists(client: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** `present` when the key holds exactly `digest`; undefined when absent; throws when it differs. */
async function sameBytes(
  client: S3Client,
  bucket: string,
  key: string,
  digest: Buffer,
): Promise<LockedPut | undefined> {
  const bytes = await getBytes(client, bucket, key);
  if (bytes === undefined) return undefined;
  if (createHash('sha256').update(bytes).digest().equals(digest)) return { status: 'present' };
  throw new Error(
    `s3://${bucket}/${key} already holds different bytes: the archive is not this store's copy (another store with the same origin, or tampering); run agent-audit verify --archive`,
  );
}
