import { createHash } from 'node:crypto';
import {
  GetObjectCommand,
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
  try {
    const res = await client.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }),
    );
    return Buffer.from(await res.Body!.transformToByteArray());
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
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
