import { S3Client } from '@aws-sdk/client-s3';

/** Where an archive is: `s3://bucket/prefix`. */
export interface ArchiveLocation {
  bucket: string;
  /** Key prefix, empty or ending with `/`. */
  prefix: string;
  /** The URL as given (normalised), for messages. */
  url: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Parse `s3://bucket[/prefix]`; throws a Configuration error naming the fix. */
export function parseArchiveUrl(url: string): ArchiveLocation {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!m || !BUCKET.test(m[1]!)) {
    throw new Error(
      `Configuration: archive is invalid, expected s3://bucket/prefix with an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens) (actual: ${JSON.stringify(url)})`,
    );
  }
  const rawPrefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  const prefix = rawPrefix === '' ? '' : `${rawPrefix}/`;
  return { bucket: m[1]!, prefix, url: `s3://${m[1]}/${prefix}` };
}

/**
 * An S3 client from the standard AWS configuration: the default credential chain (environment,
 * shared config and credentials files, SSO, container and instance roles), the region
 * (`AWS_REGION` or the profile's), and `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` for an
 * S3-compatible server, which is then addressed path-style (`http://host/bucket/key`).
 */
export function archiveClient(env: NodeJS.ProcessEnv = process.env): S3Client {
  // The pinned SDK runs on Node 20; its notice that later releases need Node 22 would print
  // on every CLI run. Silenced unless the user set the variable.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  return new S3Client({
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    // Send a checksum only where an operation requires one; the archive sends SHA-256 itself.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** A message for an S3 failure that names the bucket and, for the common causes, the fix. */
export function describeS3Error(error: unknown, where: string): string {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? 'Error';
  let fix = '';
  if (name === 'NoSuchBucket') fix = ': create the bucket with Object Lock enabled';
  else if (name === 'CredentialsProviderError' || /credential/i.test(e.message ?? ''))
    fix = ': set AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a role)';
  else if (/region/i.test(e.message ?? '')) fix = ': set AWS_REGION';
  else if (name === 'AccessDenied' || status === 403)
    fix =
      ': grant s3:PutObject, s3:GetObject, s3:ListBucket and s3:PutObjectRetention on the bucket';
  else if (/ECONNREFUSED|ENOTFOUND|fetch failed/.test(e.message ?? ''))
    fix = ': check AWS_ENDPOINT_URL_S3 and that the S3 server is reachable';
  else if (/object lock|ObjectLock|InvalidRequest/i.test(`${name} ${e.message}`))
    fix =
      ': the bucket must have Object Lock enabled (create it with --object-lock-enabled-for-bucket)';
  return `${where}: ${name}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(error)}${fix}`;
}
