// Starts the real versitygw S3 gateway (tools/versitygw, built by `pnpm versitygw:build`) with
// the posix backend and a versioning directory, so Object Lock works as on S3: COMPLIANCE
// retention refuses deletes of locked versions and retention shortening. Listens on
// 127.0.0.1 on a free port; its data and log live in a temp directory removed by dispose().
//
//   const s3 = await startVersitygw();
//   await s3.createLockedBucket('audit');
//   afterAll(() => s3.dispose());
//
// Or, for a test file: useLockedBucket('audit', 'prefix-', (server, dir) => { s3 = server; root = dir; }).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import { getFreePorts } from './free-port.js';
import { REPO_ROOT } from './jaeger.js';
import { ManagedProcess, tcpOpen } from './managed-process.js';

export const VERSITYGW_BIN = join(REPO_ROOT, 'tools/versitygw/bin/versitygw');
const ACCESS = 'agentaudittest';
const SECRET = 'agentaudittestsecret';
const REGION = 'us-east-1';

export interface VersitygwInstance {
  readonly endpoint: string;
  /** The environment an AWS client needs for this server (credentials, region, endpoint). */
  readonly env: Record<string, string>;
  readonly dataDir: string;
  client(): S3Client;
  createLockedBucket(bucket: string): Promise<void>;
  logTail(lines?: number): string;
  dispose(): Promise<void>;
}

export async function startVersitygw(
  options: { startTimeoutMs?: number } = {},
): Promise<VersitygwInstance> {
  if (!existsSync(VERSITYGW_BIN)) {
    throw new Error(`${VERSITYGW_BIN} is missing: run \`pnpm versitygw:build\` (needs Go)`);
  }
  const root = mkdtempSync(join(tmpdir(), 'agent-audit-versitygw-'));
  const dataDir = join(root, 'data');
  const versionDir = join(root, 'versions');
  mkdirSync(dataDir);
  mkdirSync(versionDir);
  const [port] = await getFreePorts(1);
  const proc = new ManagedProcess({
    name: 'versitygw',
    command: VERSITYGW_BIN,
    args: [
      '--port',
      `127.0.0.1:${port}`,
      '--access',
      ACCESS,
      '--secret',
      SECRET,
      '--region',
      REGION,
      '--quiet',
      'posix',
      '--versioning-dir',
      versionDir,
      dataDir,
    ],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root },
    logFile: join(root, 'versitygw.log'),
  });
  proc.start();
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  while (!(await tcpOpen(port!))) {
    if (!proc.running || Date.now() > deadline) {
      await proc.stop();
      const tail = proc.logTail();
      rmSync(root, { recursive: true, force: true });
      throw new Error(`versitygw did not start on 127.0.0.1:${port}:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const env = {
    AWS_ACCESS_KEY_ID: ACCESS,
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL_S3: endpoint,
  };
  // The pinned SDK runs on Node 20; its notice about later releases is noise in test output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = () =>
    new S3Client({
      endpoint,
      region: REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS, secretAccessKey: SECRET },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  return {
    endpoint,
    env,
    dataDir,
    client,
    createLockedBucket: async (bucket) => {
      await client().send(
        new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }),
      );
    },
    logTail: (lines) => proc.logTail(lines),
    dispose: async () => {
      await proc.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * For the tests of one file: before them, a scratch directory (`tmpPrefix` in the OS temp
 * directory) and a versitygw server with `bucket` (Object Lock enabled), handed to `ready`;
 * after them, the server disposed and the directory removed.
 */
export function useLockedBucket(
  bucket: string,
  tmpPrefix: string,
  ready: (s3: VersitygwInstance, root: string) => void,
): void {
  let s3: VersitygwInstance | undefined;
  let root: string | undefined;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), tmpPrefix));
    s3 = await startVersitygw();
    await s3.createLockedBucket(bucket);
    ready(s3, root);
  }, 120_000);
  afterAll(async () => {
    await s3?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });
}
