// docker-compose.yml's archive S3 server (fleet profile) is for users; no Docker engine runs
// here. These tests keep it consistent with what the archive tests run (tools/versitygw) and
// run its own command line with the binary the tests build: the bucket it serves takes Object
// Lock, a COMPLIANCE-locked version cannot be deleted.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  archiveComposeProblems,
  archiveService,
  versitygwCommand,
} from '../support/archive-compose.js';
import { getFreePorts } from '../support/free-port.js';
import { REPO_ROOT } from '../support/jaeger.js';
import { ManagedProcess } from '../support/managed-process.js';
import { VERSITYGW_BIN } from '../support/versitygw.js';

// biome-ignore lint/suspicious/noExplicitAny: test edits reach into untyped YAML.
type Loose = any;

const compose = (): Loose => parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'));

describe('docker-compose.yml, the archive S3 server (fleet profile)', () => {
  const name = archiveService(compose())!;

  it('runs the versitygw release the tests run, with versioning, on named volumes, port published, credentials from the environment', () => {
    expect(name).toBeDefined();
    expect(archiveComposeProblems(compose())).toEqual([]);
  });

  it('reports each kind of drift (the rules can fail)', () => {
    const cases: Array<[string, (c: Loose) => void, RegExp]> = [
      [
        'image drift',
        (c) => (c.services[name].image = 'versity/versitygw:v1.0.0'),
        /image tag v1\.0\.0, the tests run versitygw v/,
      ],
      [
        'no versioning',
        (c) =>
          (c.services[name].command = [
            'exec /usr/local/bin/versitygw --port :7070 posix /data/objects',
          ]),
        /without --versioning-dir/,
      ],
      [
        'ephemeral data',
        (c) => (c.services[name].volumes = []),
        /objects in \/data\/objects, not on a named volume/,
      ],
      ['unpublished port', (c) => (c.services[name].ports = []), /S3 port 7070 is not published/],
      [
        'credential in the file',
        (c) => (c.services[name].environment.ROOT_SECRET_ACCESS_KEY = 'hunter2hunter2'),
        /ROOT_SECRET_ACCESS_KEY is not taken from the environment/,
      ],
      ['no server', (c) => delete c.services[name], /no service runs an image versity\/versitygw:/],
    ];
    for (const [what, edit, expected] of cases) {
      const c = compose();
      edit(c);
      expect(archiveComposeProblems(c).join('\n'), what).toMatch(expected);
    }
  });

  it("its command line, run with the tests' versitygw, serves a bucket with Object Lock that refuses deleting a locked version", async () => {
    const cmd = versitygwCommand(compose().services[name])!;
    const root = mkdtempSync(join(tmpdir(), 'agent-audit-archive-compose-'));
    const [port] = await getFreePorts(1);
    // The compose paths moved under a temp directory, the port onto loopback; nothing else changed.
    const args = cmd.args.map((a) =>
      a === cmd.port ? `127.0.0.1:${port}` : a.startsWith('/data') ? join(root, a) : a,
    );
    for (const dir of [cmd.dataDir!, cmd.versioningDir!])
      mkdirSync(join(root, dir), { recursive: true });
    const proc = new ManagedProcess({
      name: 'versitygw (compose command)',
      command: VERSITYGW_BIN,
      args,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: root,
        ROOT_ACCESS_KEY_ID: 'composeaccess',
        ROOT_SECRET_ACCESS_KEY: 'composesecret',
      },
      logFile: join(root, 'versitygw.log'),
    });
    proc.start();
    try {
      const client = new S3Client({
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'composeaccess', secretAccessKey: 'composesecret' },
      });
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          await client.send(
            new CreateBucketCommand({ Bucket: 'audit', ObjectLockEnabledForBucket: true }),
          );
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      const put = await client.send(
        new PutObjectCommand({
          Bucket: 'audit',
          Key: 'stores/x/segments/00000001.jsonl',
          Body: 'record\n',
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000),
        }),
      );
      expect(put.VersionId).toBeTruthy();
      await expect(
        client.send(
          new DeleteObjectCommand({
            Bucket: 'audit',
            Key: 'stores/x/segments/00000001.jsonl',
            VersionId: put.VersionId,
          }),
        ),
      ).rejects.toMatchObject({ name: 'AccessDenied' });
    } finally {
      await proc.stop();
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});
