/**
 * The console's first start on a store it has never indexed: it listens at once and builds the
 * query index in a worker thread. While it does, `GET /api/status` answers with how far it got,
 * searches and run pages answer 503 saying the console is indexing (never a hang, never a
 * partial list presented as complete), and the dashboards answer from the records read so far.
 * Once the index is ready, searches answer what `agent-audit runs --json` answers.
 * The store is big enough (60,000 spans) that indexing takes visibly long; nothing here times it.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStoreReader } from '@agent-audit/store/query';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateStore } from '../../../benchmarks/src/console-store.js';
import { type ConsoleProcess, startConsole, waitForIndex } from './support/console-process.js';
import { runCli } from './support/run-cli.js';

let work: string;
let store: string;
let trustDir: string;
let consoleProcess: ConsoleProcess;

interface Progress {
  phase: string;
  segments_indexed: number | null;
  segments_to_index: number | null;
  records_indexed: number | null;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'console-indexing-'));
  store = join(work, 'store');
  trustDir = join(work, 'trust');
  await generateStore(store, trustDir, {
    runs: 15_000,
    toolsPerRun: 3,
    principals: 100,
    days: 30,
    endMs: Date.now(),
  });
}, 180_000);

afterAll(async () => {
  await consoleProcess?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('agent-audit console while it indexes a large store', () => {
  it('answers at once: status with progress, 503 for searches, dashboards meanwhile; then the full answers', async () => {
    consoleProcess = await startConsole(['--store', store, '--index-dir', join(work, 'index')], {
      cwd: work,
      env: { AGENT_AUDIT_TRUST_DIR: trustDir },
    });
    const url = consoleProcess.url;
    // Listening already: the status endpoint answers while the worker builds the index.
    const first = await fetch(`${url}/api/status`);
    expect(first.status).toBe(200);
    const status = (await first.json()) as {
      index: {
        ready: boolean;
        message: string;
        stores: Array<{ phase: string; segments: number | null; index_bytes: number }>;
      };
    };
    expect(status.index.ready).toBe(false);
    expect(['waiting', 'building', 'checking']).toContain(status.index.stores[0]!.phase);
    expect(status.index.message).toMatch(/^store 1 of 1, .*store.*: (indexing|indexed|checking)/);

    // A search now says it waits for the index, with the status, instead of blocking.
    const search = await fetch(`${url}/api/runs?principal=user:7`);
    expect(search.status).toBe(503);
    expect(search.headers.get('retry-after')).toBe('2');
    const body = (await search.json()) as { error: string; index: { ready: boolean } };
    expect(body.error).toMatch(/^the console is indexing its stores: store 1 of 1/);
    expect(body.index.ready).toBe(false);
    // The runs page shows the progress line the page's script polls.
    const landing = await fetch(`${url}/`);
    expect(landing.status).toBe(503);
    const html = await landing.text();
    expect(html).toContain('id="index-status"');
    expect(html).toContain('<script src="/assets/console.js" defer></script>');
    // The dashboards read the stores meanwhile (their own slices, not the index).
    expect((await fetch(`${url}/api/dashboards?window=all`)).status).toBe(200);

    // While it builds, the status counts segments done of the store's total (the store's
    // index progress hook); the pages show that line.
    const seen: Progress[] = [];
    for (;;) {
      const now = (await (await fetch(`${url}/api/status`)).json()) as {
        index: { ready: boolean; message: string; stores: Progress[] };
      };
      const s = now.index.stores[0]!;
      if (s.segments_indexed !== null) {
        seen.push(s);
        if (s.phase === 'building') {
          expect(now.index.message).toContain(
            s.segments_indexed < s.segments_to_index!
              ? `: indexing ${s.segments_indexed} of ${s.segments_to_index} segments (`
              : `: indexed ${s.segments_indexed} of ${s.segments_to_index} segments (`,
          );
        }
      }
      if (now.index.ready) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const ready = await waitForIndex(url);
    expect(ready.stores.map((s) => s.phase)).toEqual(['ready']);
    const segmentFiles = readdirSync(join(store, 'segments')).length;
    expect(segmentFiles).toBeGreaterThan(1);
    const done = (ready.stores as unknown as Progress[])[0]!;
    expect(done.segments_to_index).toBe(segmentFiles);
    expect(done.segments_indexed).toBe(segmentFiles);
    // Every record of the store is indexed: as many as the last record's seq.
    const scan = openStoreReader(store, { index: false });
    const last = scan.head()!;
    scan.close();
    expect(done.records_indexed).toBe(last.seq);
    const counts = seen.map((p) => p.segments_indexed!);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    const after = await fetch(`${url}/api/runs?principal=user:7&page_size=500`);
    expect(after.status).toBe(200);
    const page = (await after.json()) as { total: number; runs: Array<{ run_id: string }> };
    const cli = JSON.parse(
      (await runCli(['runs', '--principal', 'user:7', '--json', '--store', store], { cwd: work }))
        .stdout,
    ) as Array<{ run_id: string }>;
    expect(cli.length).toBeGreaterThan(100);
    expect(page.total).toBe(cli.length);
    expect(page.runs.map((r) => r.run_id).sort()).toEqual(cli.map((r) => r.run_id).sort());
    expect((await fetch(`${url}/`)).status).toBe(200);
  }, 180_000);
});
