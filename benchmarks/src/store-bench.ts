/**
 * WORM store figures for `pnpm bench` (issue "WORM store to compliance grade"). Every ratio
 * compares against a baseline measured in the same process run on the same disk:
 *
 * - worm_durable_spans_per_s: ~1 KB spans from 50 concurrent producers that append as the
 *   SDK's span processor does (a span's record is handed to the store when the span ends and
 *   the producer goes on; group commit makes it durable), counted once durable.
 *   worm_fail_closed_spans_per_s is the same with every producer waiting for each record to
 *   be durable before its next one (at most 50 records per fdatasync).
 * - worm_vs_limit_ratio: that rate over a bare loop that serialises, hashes, writes and
 *   fdatasyncs the same records in the same batch sizes the store used, pipelined as group
 *   commit allows (goal ≥ 0.5).
 * - worm_vs_sqlite_ratio: that rate over the usual audit table (one better-sqlite3
 *   connection, one INSERT committed per event, default durability) (goal ≥ 50).
 * - verify_vs_sha256_ratio: verifyStore bytes/s over reading the same segment files and
 *   SHA-256 of their bytes (goal ≥ 0.4); verify_full_vs_sha256_ratio is the same with
 *   verifyStore({ full: true }), which hashes every record even in sealed segments.
 * - query_run_ms: median run-id trail query (runRecords, index warm) on a store of
 *   STORE_BENCH_SPANS spans, default 1,000,000 (goal ≤ 50).
 * - durable_ack_p99_us: p99 latency of a pre-exec (span.start) record under 50 concurrent
 *   workflows, i.e. what a fail-closed tool call waits (span ends are appended without
 *   waiting, as the SDK does); fdatasync_us / fdatasync_p99_us are one bare 1 KB append +
 *   fdatasync on the same disk for comparison (aim: within 3×).
 */
import { createHash, hash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { type AppendEntry, AuditStore, verifyStore } from '@agent-audit/store';
import { openStoreReader } from '@agent-audit/store/query';

type Figures = Record<string, number>;

// better-sqlite3 is the baseline's driver; its types live in the store package, so the bench
// loads it untyped with the few members it calls.
interface SqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): { run(...params: unknown[]): unknown };
  close(): void;
}
const Database = createRequire(import.meta.url)('better-sqlite3') as new (
  file: string,
) => SqliteDatabase;

const PRODUCERS = 50;

function log(message: string): void {
  process.stderr.write(`  store: ${message}\n`);
}

// Constant parts of every span, made once (the bench measures the store, not String.repeat).
const INPUT_HASH = `sha256:${'a'.repeat(64)}`;
const OUTPUT_HASH = `sha256:${'b'.repeat(64)}`;
const NOTES = 'x'.repeat(420);

/**
 * A span of about 1 KB of canonical JSON, shaped like an OTLP span-end body. Its keys are in
 * sorted order because that is how the SDK builds its payloads (packages/sdk/src/otlp-json.ts),
 * which lets the store's canonicaliser hand the whole object to JSON.stringify.
 */
function spanEntry(run: string, i: number): AppendEntry {
  return {
    type: 'span.end',
    tags: {
      run,
      agent: 'support-agent',
      principal: 'user:456',
      tool: 'search',
      span: `${run}-${i}`,
      status: 'ok',
    },
    payload: {
      attributes: [
        { key: 'agent.id', value: { stringValue: 'support-agent' } },
        { key: 'workflow.run_id', value: { stringValue: run } },
        { key: 'credential.ref', value: { stringValue: 'cred:vault/search-ro' } },
        { key: 'input.hash', value: { stringValue: INPUT_HASH } },
        { key: 'output.hash', value: { stringValue: OUTPUT_HASH } },
        { key: 'tool.name', value: { stringValue: 'search' } },
        { key: 'gen_ai.tool.call.id', value: { stringValue: `call_${i}` } },
        { key: 'trigger.principal', value: { stringValue: 'user:456' } },
        { key: 'notes', value: { stringValue: NOTES } },
      ],
      endTimeUnixNano: '1764000000123000000',
      name: 'execute_tool search',
      spanId: (i + 0x1000000).toString(16).padStart(16, '0'),
      startTimeUnixNano: '1764000000000000000',
      status: { code: 1 },
      traceId: '5b8efff798038103d269b633813fc60c',
    },
  };
}

function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `agent-audit-bench-${label}-`));
}

function removeTree(dir: string): void {
  const walk = (p: string) => {
    try {
      const st = fs.lstatSync(p);
      fs.chmodSync(p, st.isDirectory() ? 0o755 : 0o644);
      if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    } catch {
      // gone already
    }
  };
  walk(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * 50 producers append `perProducer` spans each; returns spans/s and the commit sizes seen.
 *
 * `sdk`: as the SDK's span processor does, a producer hands a span's record to the store when
 * the span ends and goes on (its next step yields to the event loop, as the agent's I/O
 * would); a span counts once its record is durable, and the time runs until the last one is.
 * `fail-closed`: every producer waits for each record to be durable before the next, so a
 * commit can never hold more than 50 records.
 */
async function wormThroughput(
  perProducer: number,
  mode: 'sdk' | 'fail-closed',
): Promise<{ perSecond: number; batches: number[] }> {
  const root = tempDir('worm');
  try {
    const store = AuditStore.open({
      dir: path.join(root, 'store'),
      trustDir: path.join(root, 'trust'),
    });
    const batches: number[] = [];
    let last = store.head.seq;
    store.onAppend((head) => {
      batches.push(head.seq - last);
      last = head.seq;
    });
    const started = performance.now();
    if (mode === 'fail-closed') {
      await Promise.all(
        Array.from({ length: PRODUCERS }, async (_, p) => {
          for (let i = 0; i < perProducer; i++) await store.append(spanEntry(`run-${p}`, i));
        }),
      );
    } else {
      // Each event-loop turn, every producer ends one span; the turns in between are where
      // the agents' I/O (and the store's commit loop) run. Like the SDK, nothing keeps the
      // append promises: settlements are counted, and a failed append fails the run.
      await new Promise<void>((done, fail) => {
        const total = PRODUCERS * perProducer;
        let settled = 0;
        const onDurable = () => {
          if (++settled === total) done();
        };
        let i = 0;
        const turn = () => {
          for (let p = 0; p < PRODUCERS; p++)
            store.append(spanEntry(`run-${p}`, i)).then(onDurable, fail);
          if (++i < perProducer) setImmediate(turn);
        };
        turn();
      });
    }
    const seconds = (performance.now() - started) / 1000;
    await store.close();
    return { perSecond: (PRODUCERS * perProducer) / seconds, batches };
  } finally {
    removeTree(root);
  }
}

/**
 * The physical limit for the same work: serialise, hash, chain, write and fdatasync the same
 * records in the same batch sizes, with nothing else (no queue, no promises per record). It
 * is pipelined as a group commit can be: the next batch is serialised and written while the
 * previous batch's fdatasync runs on the thread pool, so the reference gets the second core
 * too.
 */
async function limitLoop(batches: number[]): Promise<number> {
  const root = tempDir('limit');
  try {
    const fd = fs.openSync(path.join(root, 'limit.jsonl'), 'w');
    const fdatasync = () =>
      new Promise<void>((resolve, reject) =>
        fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())),
      );
    let prev = '0'.repeat(64);
    let seq = 0;
    let offset = 0;
    let records = 0;
    let syncing: Promise<void> | undefined;
    const started = performance.now();
    for (const size of batches) {
      let text = '';
      for (let k = 0; k < size; k++) {
        seq += 1;
        const body = JSON.stringify({ prev, seq, ...spanEntry(`run-${seq % PRODUCERS}`, seq) });
        prev = hash('sha256', body, 'hex');
        text += `${body}\n`;
      }
      const buf = Buffer.from(text);
      fs.writeSync(fd, buf, 0, buf.length, offset);
      offset += buf.length;
      await syncing;
      syncing = fdatasync();
      records += size;
    }
    await syncing;
    const seconds = (performance.now() - started) / 1000;
    fs.closeSync(fd);
    return records / seconds;
  } finally {
    removeTree(root);
  }
}

/** The usual audit table: one connection, one INSERT committed (and synced) per event. */
function sqlitePerEvent(events: number): number {
  const root = tempDir('sqlite');
  try {
    const db = new Database(path.join(root, 'audit.db'));
    db.exec(
      'CREATE TABLE audit (id INTEGER PRIMARY KEY, run_id TEXT, time TEXT, type TEXT, body TEXT)',
    );
    const insert = db.prepare('INSERT INTO audit (run_id, time, type, body) VALUES (?, ?, ?, ?)');
    const started = performance.now();
    for (let i = 0; i < events; i++) {
      const e = spanEntry(`run-${i % PRODUCERS}`, i);
      insert.run(e.tags?.run, new Date().toISOString(), e.type, JSON.stringify(e.payload));
    }
    const seconds = (performance.now() - started) / 1000;
    db.close();
    return events / seconds;
  } finally {
    removeTree(root);
  }
}

/** One bare 1 KB append + fdatasync: median and p99 of `n`. */
function fdatasyncMicros(n: number): { p50: number; p99: number } {
  const root = tempDir('fsync');
  try {
    const fd = fs.openSync(path.join(root, 'f'), 'w');
    const buf = Buffer.from(`${JSON.stringify(spanEntry('r', 0))}\n`);
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      fs.writeSync(fd, buf, 0, buf.length, i * buf.length);
      fs.fdatasyncSync(fd);
      times.push((performance.now() - t0) * 1000);
    }
    fs.closeSync(fd);
    times.sort((a, b) => a - b);
    return { p50: percentile(times, 50), p99: percentile(times, 99) };
  } finally {
    removeTree(root);
  }
}

/** Wait of a pre-exec record under 50 concurrent workflows (each: start, tool, end). */
async function durableAck(perWorkflow: number): Promise<{ p50: number; p99: number }> {
  const root = tempDir('ack');
  try {
    const store = AuditStore.open({
      dir: path.join(root, 'store'),
      trustDir: path.join(root, 'trust'),
    });
    const waits: number[] = [];
    const ends: Promise<unknown>[] = [];
    await Promise.all(
      Array.from({ length: PRODUCERS }, async (_, w) => {
        for (let i = 0; i < perWorkflow; i++) {
          const e = spanEntry(`wf-${w}`, i);
          const t0 = performance.now();
          // Fail-closed: the tool call waits until its intent record is durable.
          await store.append({
            type: 'span.start',
            tags: e.tags,
            payload: { name: 'execute_tool search', i },
          });
          waits.push((performance.now() - t0) * 1000);
          await new Promise((r) => setImmediate(r)); // the tool runs
          // The span end is appended as the SDK does on span end: the workflow goes on.
          ends.push(store.append(e));
        }
      }),
    );
    await Promise.all(ends);
    await store.close();
    waits.sort((a, b) => a - b);
    return { p50: percentile(waits, 50), p99: percentile(waits, 99) };
  } finally {
    removeTree(root);
  }
}

/** Build a store of `spans` spans (runs of 10) with big batches; returns its directory. */
async function bigStore(root: string, spans: number): Promise<string> {
  const dir = path.join(root, 'store');
  const store = AuditStore.open({
    dir,
    trustDir: path.join(root, 'trust'),
    checkpointEveryRecords: 10_000,
  });
  const batch = 2000;
  for (let done = 0; done < spans; done += batch) {
    const entries: AppendEntry[] = [];
    for (let k = 0; k < batch && done + k < spans; k++) {
      const n = done + k;
      // Runs of 10 spans, interleaved 50 at a time as concurrent workflows would write them.
      const run = `run-${Math.floor(n / 500) * 50 + (n % 50)}`;
      entries.push(spanEntry(run, n));
    }
    await store.appendBatch(entries);
    if (done % 200_000 === 0 && done > 0) log(`built ${done} spans`);
  }
  await store.close();
  return dir;
}

/** Read the segment files and SHA-256 their bytes: the baseline for verify. */
function sha256Files(dir: string): { bytes: number; seconds: number } {
  const files = fs
    .readdirSync(path.join(dir, 'segments'))
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => path.join(dir, 'segments', f));
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  let bytes = 0;
  const started = performance.now();
  for (const file of files) {
    const fd = fs.openSync(file, 'r');
    const hasher = createHash('sha256');
    let pos = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      hasher.update(buf.subarray(0, n));
      pos += n;
    }
    hasher.digest();
    fs.closeSync(fd);
    bytes += pos;
  }
  return { bytes, seconds: (performance.now() - started) / 1000 };
}

export async function runStoreBench(): Promise<Record<string, number>> {
  const figures: Figures = {};

  const bare = fdatasyncMicros(200);
  figures.fdatasync_us = Math.round(bare.p50);
  figures.fdatasync_p99_us = Math.round(bare.p99);
  log(`one 1 KB append + fdatasync: ${figures.fdatasync_us} µs`);

  // The disk and CPUs are shared: each round measures the store and both baselines back to
  // back, and the ratios are medians of per-round ratios, so a slow minute hits both sides.
  const rounds = 5;
  const worms: number[] = [];
  const limits: number[] = [];
  const sqlites: number[] = [];
  const vsLimit: number[] = [];
  const vsSqlite: number[] = [];
  const batchSizes: number[] = [];
  const failClosed: number[] = [];
  const failClosedVsSqlite: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const worm = await wormThroughput(1000, 'sdk');
    const closed = await wormThroughput(200, 'fail-closed');
    const limit = await limitLoop(worm.batches);
    const sqlite = sqlitePerEvent(400);
    worms.push(worm.perSecond);
    limits.push(limit);
    sqlites.push(sqlite);
    vsLimit.push(worm.perSecond / limit);
    vsSqlite.push(worm.perSecond / sqlite);
    batchSizes.push(...worm.batches);
    failClosed.push(closed.perSecond);
    failClosedVsSqlite.push(closed.perSecond / sqlite);
  }
  const median = (xs: number[]) =>
    percentile(
      [...xs].sort((a, b) => a - b),
      50,
    );
  figures.worm_durable_spans_per_s = Math.round(median(worms));
  figures.worm_limit_spans_per_s = Math.round(median(limits));
  figures.worm_avg_batch =
    Math.round((batchSizes.reduce((a, b) => a + b, 0) / batchSizes.length) * 10) / 10;
  figures.sqlite_per_event_spans_per_s = Math.round(median(sqlites));
  figures.worm_vs_limit_ratio = Math.round(median(vsLimit) * 100) / 100;
  figures.worm_vs_sqlite_ratio = Math.round(median(vsSqlite) * 10) / 10;
  figures.worm_fail_closed_spans_per_s = Math.round(median(failClosed));
  figures.worm_fail_closed_vs_sqlite_ratio = Math.round(median(failClosedVsSqlite) * 10) / 10;

  const ack = await durableAck(100);
  figures.durable_ack_p50_us = Math.round(ack.p50);
  figures.durable_ack_p99_us = Math.round(ack.p99);
  // Compared with the bare fdatasync's own p99: on a shared disk the tail of fdatasync
  // dominates both, and a pre-exec record waits for at most the sync in flight plus its own.
  figures.durable_ack_vs_fdatasync_p99 =
    Math.round((figures.durable_ack_p99_us / figures.fdatasync_p99_us) * 10) / 10;

  const spans = Number.parseInt(process.env.STORE_BENCH_SPANS ?? '', 10) || 1_000_000;
  const root = tempDir('big');
  try {
    const t0 = performance.now();
    const dir = await bigStore(root, spans);
    figures.query_store_spans = spans;
    figures.store_build_s = Math.round((performance.now() - t0) / 100) / 10;
    log(`built a store of ${spans} spans in ${figures.store_build_s} s`);

    // Baseline and verify over the same bytes, both from the page cache (read once before).
    sha256Files(dir);
    const base = sha256Files(dir);
    const v0 = performance.now();
    const report = await verifyStore({ dir, trustDir: path.join(root, 'trust') });
    const verifySeconds = (performance.now() - v0) / 1000;
    if (report.exitCode !== 0)
      throw new Error(`bench store did not verify: ${JSON.stringify(report.problems[0])}`);
    figures.verify_bytes_per_s = Math.round(report.bytes / verifySeconds);
    figures.sha256_bytes_per_s = Math.round(base.bytes / base.seconds);
    figures.verify_vs_sha256_ratio =
      Math.round((figures.verify_bytes_per_s / figures.sha256_bytes_per_s) * 100) / 100;
    // The same with every record hashed one by one (no sealed-segment digest fast path),
    // reported so the fast path's share of the figure above is visible.
    const f0 = performance.now();
    const full = await verifyStore({ dir, trustDir: path.join(root, 'trust'), full: true });
    const fullSeconds = (performance.now() - f0) / 1000;
    if (full.exitCode !== 0) throw new Error('bench store did not verify record by record');
    figures.verify_full_vs_sha256_ratio =
      Math.round((full.bytes / fullSeconds / figures.sha256_bytes_per_s) * 100) / 100;

    const reader = openStoreReader(dir);
    const i0 = performance.now();
    reader.runRecords('run-0'); // builds the index
    figures.index_build_s = Math.round((performance.now() - i0) / 100) / 10;
    const runs = Math.floor(spans / 10);
    const times: number[] = [];
    for (let q = 0; q < 41; q++) {
      const run = `run-${Math.floor((q * 7919 * 13) % runs)}`;
      const t = performance.now();
      const records = reader.runRecords(run);
      times.push(performance.now() - t);
      if (records.length === 0) throw new Error(`no records for ${run}`);
    }
    reader.close();
    figures.query_run_ms =
      Math.round(
        percentile(
          times.sort((a, b) => a - b),
          50,
        ) * 100,
      ) / 100;
  } finally {
    removeTree(root);
  }
  return figures;
}
