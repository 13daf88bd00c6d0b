import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AuditStore } from '@agent-audit/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/jaeger.js';

const run = promisify(execFile);

// The forwarder's sockets and timers are unref'd so that it never keeps a finished agent alive.
// An explicit drain is different: its caller awaits the answer. A script whose only work is the
// drain once exited mid-request, silently, without the drain ever resolving.
describe('an awaited drain keeps the process alive until it answers', () => {
  let dir: string;
  let endpoint: string;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'), 300);
    });
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aa-drain-'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
    const store = AuditStore.open({ dir: join(dir, 'store'), trustDir: join(dir, 'trust') });
    await store.append({
      type: 'span.end',
      tags: { run: 'run-1', span: '00f067aa0ba902b7', trace: '4bf92f3577b34da6a3ce929d0e0e4736' },
      payload: {
        resourceSpans: [
          {
            resource: { attributes: [] },
            scopeSpans: [
              {
                scope: { name: 'test' },
                spans: [
                  {
                    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
                    spanId: '00f067aa0ba902b7',
                    name: 'execute_tool search',
                    kind: 1,
                    startTimeUnixNano: '1764000000000000000',
                    endTimeUnixNano: '1764000000001000000',
                    attributes: [],
                    status: { code: 0 },
                  },
                ],
              },
            ],
          },
        ],
      },
    });
    await store.close();
  });

  afterAll(async () => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers with the drain result while the collector takes its time', async () => {
    const { stdout } = await run(process.execPath, [
      join(REPO_ROOT, 'test/integration/fixtures/drain-only.mjs'),
      join(dir, 'store'),
      endpoint,
    ]);
    expect(JSON.parse(stdout)).toEqual({ ok: true, delivered: 1 });
  });
});
