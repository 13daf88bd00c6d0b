import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JaegerProcess, startJaeger } from './support/jaeger-process.js';
import { runCli } from './support/run-cli.js';
import { writeStore } from './support/write-store.js';

const SPANS_PER_RUN = 10; // ended spans of the demo run; the never-ended intent is not sent

/** A scripted OTLP receiver: answers each request with the next scripted status. */
async function fakeCollector(script: Array<{ status: number; headers?: Record<string, string> }>) {
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      bodies.push(body);
      const step = script[Math.min(bodies.length - 1, script.length - 1)]!;
      res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
      res.end(step.status === 200 ? '{}' : '{"message":"scripted"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    bodies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('agent-audit forward', () => {
  const root = mkdtempSync(join(tmpdir(), 'cli-forward-'));
  let n = 0;
  async function freshStore(runs = ['run-f1']) {
    const dir = join(root, `store-${++n}`);
    const trust = join(root, `trust-${n}`);
    await writeStore(
      dir,
      trust,
      runs.map((runId) => ({ runId: `${runId}-${n}-${process.pid}` })),
    );
    return {
      dir,
      env: { AGENT_AUDIT_STORE_DIR: dir, AGENT_AUDIT_TRUST_DIR: trust },
      runIds: runs.map((r) => `${r}-${n}-${process.pid}`),
    };
  }
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  describe('to a real Jaeger', () => {
    let jaeger: JaegerProcess;
    beforeAll(async () => {
      jaeger = await startJaeger();
    });
    afterAll(async () => {
      await jaeger?.stop();
    });

    it('--drain delivers every stored span once; Jaeger then holds each run; a second pass sends nothing', async () => {
      const { dir, env, runIds } = await freshStore(['run-a', 'run-b']);
      const r = await runCli(['forward', '--drain', '--endpoint', jaeger.otlpTracesUrl, '--json'], {
        env,
      });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({
        ok: true,
        delivered: 2 * SPANS_PER_RUN,
        pendingRecords: 0,
        deadLetterSpans: 0,
      });
      for (const runId of runIds) {
        const fromStore = JSON.parse((await runCli(['trail', runId, '--json'], { env })).stdout)
          .spans.filter((s: { incomplete: boolean }) => !s.incomplete)
          .map((s: { span_id: string }) => s.span_id)
          .sort();
        let fromJaeger: string[] = [];
        for (let i = 0; i < 100 && fromJaeger.length < fromStore.length; i++) {
          const j = await runCli(['trail', runId, '--jaeger', jaeger.queryUrl, '--json']);
          fromJaeger =
            j.code === 0
              ? JSON.parse(j.stdout)
                  .spans.map((s: { span_id: string }) => s.span_id)
                  .sort()
              : [];
          if (fromJaeger.length < fromStore.length)
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(fromJaeger).toEqual(fromStore);
      }
      const cursor = JSON.parse(readFileSync(join(dir, 'forwarder', 'cursor.json'), 'utf8'));
      expect(cursor).toMatchObject({
        version: 1,
        delivered: 2 * SPANS_PER_RUN,
        endpoint: jaeger.otlpTracesUrl,
      });
      const again = JSON.parse(
        (await runCli(['forward', '--json', '--endpoint', jaeger.otlpTracesUrl], { env })).stdout,
      );
      expect(again).toMatchObject({ ok: true, delivered: 0, requests: 0 });
      const status = JSON.parse((await runCli(['status', '--json'], { env })).stdout);
      expect(status.forwarder).toMatchObject({ pending_records: 0, delivered: 2 * SPANS_PER_RUN });
    });
  });

  it('with the endpoint down: exit 1 with the reason, the cursor stays, the error is in status', async () => {
    const { env } = await freshStore();
    const r = await runCli(['forward', '--endpoint', 'http://127.0.0.1:9/v1/traces'], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/NOT fully forwarded: 0 span\(s\)/);
    expect(r.stdout).toMatch(/reason: request to http:\/\/127\.0\.0\.1:9\/v1\/traces failed/);
    const status = JSON.parse((await runCli(['status', '--json'], { env })).stdout);
    expect(status.forwarder).toMatchObject({ next_seq: 0, delivered: 0 });
    expect(status.forwarder.last_error).toMatch(/failed/);
    expect(status.forwarder.pending_records).toBe(status.store.head_seq);
    const drained = await runCli(
      [
        'forward',
        '--drain',
        '--timeout',
        '1s',
        '--json',
        '--endpoint',
        'http://127.0.0.1:9/v1/traces',
      ],
      { env },
    );
    expect(drained.code).toBe(1);
    expect(JSON.parse(drained.stdout).requests).toBeGreaterThan(1);
  });

  it('--drain waits out a 503 with Retry-After, then delivers', async () => {
    const collector = await fakeCollector([
      { status: 503, headers: { 'retry-after': '1' } },
      { status: 200 },
    ]);
    try {
      const { env } = await freshStore();
      const r = await runCli(['forward', '--drain', '--json', '--endpoint', collector.url], {
        env,
      });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        ok: true,
        delivered: SPANS_PER_RUN,
        requests: 2,
      });
      expect(collector.bodies[1]).toBe(collector.bodies[0]);
      const sent = JSON.parse(collector.bodies[1]!);
      expect(sent.resourceSpans).toHaveLength(SPANS_PER_RUN);
    } finally {
      await collector.close();
    }
  });

  it('a 400 batch goes to the dead-letter file, is counted, and the cursor moves on', async () => {
    const collector = await fakeCollector([{ status: 400 }]);
    try {
      const { dir, env } = await freshStore();
      const r = await runCli(['forward', '--json', '--endpoint', collector.url], { env });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        ok: true,
        delivered: 0,
        deadLetterBatches: 1,
        deadLetterSpans: SPANS_PER_RUN,
        pendingRecords: 0,
      });
      const file = join(dir, 'forwarder', 'dead-letter.jsonl');
      expect(existsSync(file)).toBe(true);
      const [line] = readFileSync(file, 'utf8').trim().split('\n');
      expect(JSON.parse(line!)).toMatchObject({
        spans: SPANS_PER_RUN,
        reason: expect.stringMatching(/answered 400/),
      });
    } finally {
      await collector.close();
    }
  });

  it('refuses a corrupt cursor instead of starting over (exit 3, names the file)', async () => {
    const { dir, env } = await freshStore();
    mkdirSync(join(dir, 'forwarder'), { recursive: true });
    writeFileSync(join(dir, 'forwarder', 'cursor.json'), '{"version":1,"nextSeq":-4}');
    const r = await runCli(['forward', '--endpoint', 'http://127.0.0.1:9/v1/traces'], { env });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /forwarder cursor .*cursor\.json is not a version 1 cursor; move it aside/,
    );
  });

  it('rejects a bad --endpoint and --timeout', async () => {
    const { env } = await freshStore();
    const a = await runCli(['forward', '--endpoint', 'localhost:4318'], { env });
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/invalid --endpoint "localhost:4318"/);
    const b = await runCli(['forward', '--drain', '--timeout', 'soon'], { env });
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/invalid --timeout value "soon"/);
  });
});
