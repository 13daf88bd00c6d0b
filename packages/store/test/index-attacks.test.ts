import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunFilter, RunSummary } from '../src/index.js';
import { type IndexWarning, openStoreReader, reindexStore } from '../src/query.js';
import { cleanupTempStores, type TempStore, tempStore } from './helpers.js';
import { rebindAnchors } from './power-loss.js';

// The query index is a cache that cannot lie (docs/reliability.md row 40): whatever is
// done to index.sqlite, a query answers what the segments say, and says when the index
// disagreed; `reindex` rebuilds from any file. Every attack is checked on the store as the
// attacker left it and again after a writer restart (AuditStore open, append, close).

afterAll(cleanupTempStores);

const RUNS = 12;

let template: TempStore | undefined;

/** One store with its index, written once; each test attacks its own copy. */
async function writeTemplate(): Promise<TempStore> {
  const t = tempStore();
  const store = t.open({ segmentMaxBytes: 8_000 });
  for (let w = 0; w < RUNS; w++) {
    const tags = {
      run: `run-${w}`,
      agent: w % 2 ? 'support-agent' : 'billing-agent',
      principal: `user:${w % 4}`,
      tenant: w % 3 ? 't1' : 't2',
    };
    for (let i = 0; i < 3; i++) {
      const spanTags = {
        ...tags,
        span: `${w}-${i}`,
        ...(i ? { parent: `${w}-0`, tool: `tool-${(w + i) % 5}` } : {}),
      };
      await store.append({ type: 'span.start', tags: spanTags, payload: startPayload(w, i) });
      await store.append({
        type: 'span.end',
        tags: { ...spanTags, status: 'ok' },
        payload: endPayload(w, i),
      });
    }
  }
  await store.close();
  // Build the index the way a user does: with a query.
  const reader = openStoreReader(t.dir);
  expect(reader.runRecords('run-7')).toHaveLength(6);
  reader.close();
  return t;
}

const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });

/** A tool span (i > 0) uses the credential `aat_use_(w % 4)` (a span attribute). */
function startPayload(w: number, i: number) {
  return { op: i, attributes: i ? [kv('credential.ref', `aat_use_${w % 4}`)] : [] };
}

/** A run's root span issues `aat_iss_w` (a `credential.issued` event), never used by a span. */
function endPayload(w: number, i: number) {
  if (i) return {};
  const event = { name: 'credential.issued', attributes: [kv('credential.ref', `aat_iss_${w}`)] };
  return { resourceSpans: [{ scopeSpans: [{ spans: [{ spanId: `${w}-0`, events: [event] }] }] }] };
}

const CREDENTIALS = [
  ...Array.from({ length: 4 }, (_, i) => `aat_use_${i}`),
  ...Array.from({ length: RUNS }, (_, i) => `aat_iss_${i}`),
];

async function buildStore(): Promise<TempStore> {
  template ??= await writeTemplate();
  const t = tempStore();
  fs.cpSync(template.dir, t.dir, { recursive: true });
  fs.cpSync(template.trustDir, t.trustDir, { recursive: true });
  // The anchor binds a store's identity to its path: the copy is this path's store.
  rebindAnchors(t.trustDir, template.dir, t.dir);
  rebindAnchors(t.dir, template.dir, t.dir);
  return t;
}

const indexFile = (t: TempStore) => path.join(t.dir, 'index.sqlite');

function sql(t: TempStore, statements: string): void {
  const db = new Database(indexFile(t));
  db.exec(statements);
  db.close();
}

async function restartWriter(t: TempStore): Promise<void> {
  const store = t.open({ segmentMaxBytes: 8_000 });
  await store.append({
    type: 'span.end',
    tags: { run: 'run-after-restart', principal: 'user:1', agent: 'support-agent', span: 'r' },
    payload: {},
  });
  await store.close();
}

const FILTERS: RunFilter[] = [
  {},
  { principal: 'user:3' },
  { agent: 'support-agent' },
  { tool: 'tool-2' },
  { tenant: 't2' },
  { since: new Date(Date.now() - 3_600_000) },
  { until: new Date(Date.now() + 3_600_000) },
];

/** Every query, through the index, next to the same query answered by scanning the segments. */
function answers(t: TempStore, warnings: IndexWarning[]) {
  const truth = openStoreReader(t.dir, { index: false });
  const indexed = openStoreReader(t.dir, { onWarning: (w) => warnings.push(w) });
  const rows = (runs: RunSummary[]) =>
    runs.map((r) => [r.run_id, r.principal, r.agent_id, r.start, r.spans]).sort();
  try {
    const out = { indexed: [] as unknown[], truth: [] as unknown[] };
    // Run lists first: they are answered from index rows alone, never from the records.
    for (const f of FILTERS) {
      out.indexed.push(rows(indexed.listRuns(f)));
      out.truth.push(rows(truth.listRuns(f)));
    }
    // The truth for every run at once, from one pass over the segments.
    const byRun = new Map<string, number[]>();
    for (const r of truth.recordsFrom(1, 1_000_000)) {
      if (r.tags.run) byRun.set(r.tags.run, [...(byRun.get(r.tags.run) ?? []), r.seq]);
    }
    for (let w = 0; w < RUNS; w++) {
      out.indexed.push(indexed.runRecords(`run-${w}`).map((r) => r.seq));
      out.truth.push(byRun.get(`run-${w}`) ?? []);
    }
    // Credential refs → runs (a credential query: `runs --credential`, `whois`).
    for (const ref of CREDENTIALS) {
      out.indexed.push(indexed.credentialRuns(ref).sort());
      out.truth.push(truth.credentialRuns(ref).sort());
    }
    return out;
  } finally {
    indexed.close();
    truth.close();
  }
}

interface Attack {
  name: string;
  attack: (t: TempStore, other: () => Promise<TempStore>) => Promise<void> | void;
  /** The warning the first query must give; undefined when a silent rebuild is right. */
  expect: IndexWarning['code'] | 'any' | undefined;
  /** False when the attack touches no run's rows: a one-run query cannot see it (nor is lied to). */
  perRun?: false;
}

const ATTACKS: Attack[] = [
  {
    name: 'all rows of a run deleted (the run vanishes from every query)',
    attack: (t) => sql(t, "DELETE FROM records WHERE run = 'run-7'"),
    expect: 'INDEX_DISAGREES',
  },
  {
    name: 'one row in the middle deleted',
    attack: (t) => sql(t, "DELETE FROM records WHERE span = '5-1' AND type = 'span.end'"),
    expect: 'INDEX_DISAGREES',
  },
  {
    name: 'the newest rows deleted and the watermark moved to the last row left',
    attack: (t) =>
      sql(
        t,
        `DELETE FROM records WHERE seq > (SELECT MAX(seq) - 8 FROM records);
         UPDATE meta SET value = (SELECT segment || ':' || offset || ':' || length FROM records ORDER BY seq DESC LIMIT 1) WHERE key = 'last_loc';
         UPDATE meta SET value = (SELECT hash FROM records ORDER BY seq DESC LIMIT 1) WHERE key = 'last_hash';`,
      ),
    expect: 'INDEX_DISAGREES',
    perRun: false,
  },
  {
    name: 'principal changed in the rows of a run',
    attack: (t) => sql(t, "UPDATE records SET principal = 'user:3' WHERE run = 'run-4'"),
    expect: 'INDEX_DISAGREES',
  },
  {
    name: 'tool changed in a row (hides a run from a tool query)',
    attack: (t) => sql(t, "UPDATE records SET tool = 'tool-9' WHERE tool = 'tool-2'"),
    expect: 'INDEX_DISAGREES',
  },
  {
    name: 'agent changed in the rows of a run',
    attack: (t) =>
      sql(t, "UPDATE records SET agent = 'billing-agent' WHERE agent = 'support-agent'"),
    expect: 'INDEX_DISAGREES',
  },
  {
    name: 'run changed: one run folded into another',
    attack: (t) => sql(t, "UPDATE records SET run = 'run-2' WHERE run = 'run-3'"),
    expect: 'INDEX_DISAGREES',
  },
  {
    name: 'time changed (hides a run from a time query)',
    attack: (t) =>
      sql(t, "UPDATE records SET time = '1970-01-01T00:00:00.000Z' WHERE run = 'run-6'"),
    expect: 'INDEX_DISAGREES',
  },
  {
    name: "rows pointing elsewhere (a run's rows at the next record's location)",
    attack: (t) =>
      sql(
        t,
        `UPDATE records SET (segment, offset, length, hash) =
           (SELECT n.segment, n.offset, n.length, n.hash FROM records n WHERE n.seq = records.seq + 1)
         WHERE run = 'run-1';`,
      ),
    expect: 'INDEX_DISAGREES',
  },
  {
    name: 'the credential row of an issued ref deleted (hides the run from whois)',
    attack: (t) => sql(t, "DELETE FROM credentials WHERE ref = 'aat_iss_5'"),
    expect: 'INDEX_DISAGREES',
    perRun: false,
  },
  {
    name: 'the credential rows of a used ref deleted',
    attack: (t) => sql(t, "DELETE FROM credentials WHERE ref = 'aat_use_1'"),
    expect: 'INDEX_DISAGREES',
    perRun: false,
  },
  {
    name: 'a credential row planted (pins a credential on a run that never saw it)',
    attack: (t) =>
      sql(
        t,
        `INSERT INTO credentials (seq, segment, kind, ref)
           SELECT seq, segment, 'used', 'aat_iss_5' FROM records WHERE run = 'run-9' AND type = 'span.start' LIMIT 1`,
      ),
    expect: 'INDEX_DISAGREES',
    perRun: false,
  },
  {
    name: 'a credential row moved to another run',
    attack: (t) =>
      sql(
        t,
        `UPDATE credentials SET seq = (SELECT seq FROM records WHERE run = 'run-2' AND type = 'span.start' LIMIT 1)
           WHERE ref = 'aat_iss_8'`,
      ),
    expect: 'INDEX_DISAGREES',
    perRun: false,
  },
  {
    name: "a credential row's kind changed",
    attack: (t) => sql(t, "UPDATE credentials SET kind = 'used' WHERE ref = 'aat_iss_4'"),
    expect: 'INDEX_DISAGREES',
    perRun: false,
  },
  {
    name: "another store's index swapped in",
    attack: async (t, other) => {
      const o = await other();
      fs.copyFileSync(indexFile(o), indexFile(t));
    },
    // It describes other segments (another first record): rebuilt before any answer.
    expect: undefined,
  },
  {
    name: 'the index file truncated',
    attack: (t) => {
      const size = fs.statSync(indexFile(t)).size;
      fs.truncateSync(indexFile(t), Math.floor(size / 3));
    },
    expect: 'any',
  },
  {
    name: 'the index file replaced by garbage',
    attack: (t) => fs.writeFileSync(indexFile(t), Buffer.alloc(40_000, 0x5a)),
    expect: 'INDEX_UNUSABLE',
  },
  {
    name: 'a SQLite file of another schema in its place',
    attack: (t) => {
      fs.rmSync(indexFile(t));
      const db = new Database(indexFile(t));
      db.exec(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('x');",
      );
      db.close();
    },
    expect: 'INDEX_UNUSABLE',
  },
  {
    name: 'our table names with other columns, claiming the current schema',
    attack: (t) => {
      fs.rmSync(indexFile(t));
      const db = new Database(indexFile(t));
      db.pragma(`application_id = ${0x41414958}`);
      db.exec(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('schema', '4'); CREATE TABLE records (seq INTEGER PRIMARY KEY, note TEXT);",
      );
      db.close();
    },
    expect: 'INDEX_UNUSABLE',
  },
];

async function otherStore(): Promise<TempStore> {
  const o = tempStore();
  const store = o.open();
  for (let i = 0; i < 5; i++) {
    await store.append({
      type: 'span.end',
      tags: { run: `run-${i}`, principal: 'user:3', agent: 'support-agent', span: `o${i}` },
      payload: { other: true },
    });
  }
  await store.close();
  openStoreReader(o.dir).listRuns();
  return o;
}

describe('the query index cannot lie', () => {
  for (const a of ATTACKS) {
    for (const restart of [false, true]) {
      it(`${a.name}${restart ? ', after a writer restart' : ''}`, async () => {
        const t = await buildStore();
        await a.attack(t, otherStore);
        if (restart) await restartWriter(t);
        // One-shot readers (a CLI trail) on a copy: each asks for one run, first thing.
        const copy = tempStore();
        fs.cpSync(t.dir, copy.dir, { recursive: true });
        const oneShot: IndexWarning[] = [];
        const truthReader = openStoreReader(t.dir, { index: false });
        for (let w = 0; w < RUNS; w++) {
          const reader = openStoreReader(copy.dir, { onWarning: (x) => oneShot.push(x) });
          expect(reader.runRecords(`run-${w}`).map((r) => r.seq)).toEqual(
            truthReader.runRecords(`run-${w}`).map((r) => r.seq),
          );
          reader.close();
        }
        truthReader.close();
        if (a.expect === undefined) expect(oneShot).toEqual([]);
        else if (a.expect === 'any') expect(oneShot.length).toBeGreaterThan(0);
        else if (a.perRun !== false) expect(oneShot.map((w) => w.code)).toContain(a.expect);

        const warnings: IndexWarning[] = [];
        const first = answers(t, warnings);
        expect(first.indexed).toEqual(first.truth);
        if (a.expect === undefined) expect(warnings).toEqual([]);
        else if (a.expect === 'any') expect(warnings.length).toBeGreaterThan(0);
        else expect(warnings.map((w) => w.code)).toContain(a.expect);
        for (const w of warnings) expect(w.message).toContain(indexFile(t));

        // reindex rebuilds from whatever is there; then queries agree without a warning.
        expect(reindexStore(t.dir).records).toBeGreaterThan(RUNS * 6);
        const after: IndexWarning[] = [];
        const second = answers(t, after);
        expect(second.indexed).toEqual(second.truth);
        expect(after).toEqual([]);
        expect(second.truth).toEqual(first.truth);
      });
    }
  }

  it('an intact index gives no warning, before and after a writer restart', async () => {
    const t = await buildStore();
    const warnings: IndexWarning[] = [];
    const before = answers(t, warnings);
    expect(before.indexed).toEqual(before.truth);
    await restartWriter(t);
    const after = answers(t, warnings);
    expect(after.indexed).toEqual(after.truth);
    expect(warnings).toEqual([]);
  });

  it("a reader's first run list comes from a scan, and the index's list is held against it", async () => {
    const t = await buildStore();
    sql(t, "DELETE FROM records WHERE run = 'run-7'");
    const warnings: IndexWarning[] = [];
    const reader = openStoreReader(t.dir, { onWarning: (w) => warnings.push(w) });
    expect(reader.listRuns().map((r) => r.run_id)).toContain('run-7');
    expect(warnings.map((w) => w.code)).toEqual(['INDEX_DISAGREES']);
    expect(warnings[0]!.message).toMatch(/run list differs/);
    reader.close();
  });

  it("a reader's first credential query comes from a scan, and the index's rows are held against it", async () => {
    const t = await buildStore();
    sql(t, "DELETE FROM credentials WHERE ref = 'aat_iss_7'");
    const warnings: IndexWarning[] = [];
    const reader = openStoreReader(t.dir, { onWarning: (w) => warnings.push(w) });
    expect(reader.credentialRuns('aat_iss_7')).toEqual(['run-7']);
    expect(warnings.map((w) => w.code)).toEqual(['INDEX_DISAGREES']);
    expect(warnings[0]!.message).toMatch(/credential rows differ/);
    // Rebuilt: the next answer comes from the index, with nothing to say.
    expect(reader.credentialRuns('aat_iss_7')).toEqual(['run-7']);
    expect(warnings).toHaveLength(1);
    reader.close();
  });

  it('a credential row changed while a reader is open is caught by that reader', async () => {
    const t = await buildStore();
    const warnings: IndexWarning[] = [];
    const reader = openStoreReader(t.dir, { onWarning: (w) => warnings.push(w) });
    reader.listRuns();
    expect(reader.credentialRuns('aat_use_2')).toEqual(['run-2', 'run-6', 'run-10']);
    sql(t, "UPDATE credentials SET ref = 'aat_use_3' WHERE ref = 'aat_use_2'");
    expect(reader.credentialRuns('aat_use_2')).toEqual(['run-2', 'run-6', 'run-10']);
    expect(reader.credentialRuns('aat_use_3')).toEqual(['run-3', 'run-7', 'run-11']);
    expect(warnings.map((w) => w.code)).toEqual(['INDEX_DISAGREES']);
    reader.close();
  });

  it('an index of the previous schema (no credential table) is rebuilt without a warning', async () => {
    const t = await buildStore();
    sql(t, "DROP TABLE credentials; UPDATE meta SET value = '3' WHERE key = 'schema';");
    const warnings: IndexWarning[] = [];
    const reader = openStoreReader(t.dir, { onWarning: (w) => warnings.push(w) });
    expect(reader.credentialRuns('aat_iss_3')).toEqual(['run-3']);
    reader.listRuns();
    expect(reader.credentialRuns('aat_use_0')).toEqual(['run-0', 'run-4', 'run-8']);
    reader.close();
    expect(warnings).toEqual([]);
    const db = new Database(indexFile(t));
    const version = db.prepare("SELECT value FROM meta WHERE key = 'schema'").pluck().get();
    const rows = db.prepare('SELECT COUNT(*) FROM credentials').pluck().get();
    db.close();
    expect(version).toBe('4');
    expect(rows).toBe(RUNS * 3);
  });

  it('a reader that only asks for runs checks the whole index from its second query on', async () => {
    const t = await buildStore();
    // Rows no run query touches: only the whole-index check can see them gone.
    sql(t, 'DELETE FROM records WHERE run IS NULL');
    const warnings: IndexWarning[] = [];
    const reader = openStoreReader(t.dir, { onWarning: (w) => warnings.push(w) });
    expect(reader.runRecords('run-0')).toHaveLength(6);
    expect(warnings).toEqual([]);
    expect(reader.runRecords('run-1')).toHaveLength(6);
    expect(warnings.map((w) => w.code)).toEqual(['INDEX_DISAGREES']);
    expect(reader.runRecords('run-2')).toHaveLength(6);
    expect(warnings).toHaveLength(1);
    reader.close();
  });

  it('a row changed while a reader is open is caught by that reader', async () => {
    const t = await buildStore();
    const warnings: IndexWarning[] = [];
    const reader = openStoreReader(t.dir, { onWarning: (w) => warnings.push(w) });
    expect(reader.listRuns({ principal: 'user:0' }).map((r) => r.run_id)).toHaveLength(3);
    sql(t, "UPDATE records SET principal = 'user:9' WHERE principal = 'user:0'");
    expect(reader.listRuns({ principal: 'user:0' }).map((r) => r.run_id)).toHaveLength(3);
    expect(reader.listRuns({ principal: 'user:9' })).toEqual([]);
    expect(warnings.map((w) => w.code)).toEqual(['INDEX_DISAGREES']);
    reader.close();
  });

  it('by default a disagreement is a process warning (printed on stderr)', async () => {
    const t = await buildStore();
    sql(t, "DELETE FROM records WHERE run = 'run-7'");
    const seen: Error[] = [];
    const listener = (w: Error) => seen.push(w);
    process.on('warning', listener);
    try {
      const reader = openStoreReader(t.dir);
      expect(reader.runRecords('run-7')).toHaveLength(6);
      reader.close();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', listener);
    }
    expect(seen.map((w) => (w as Error & { code?: string }).code)).toContain('AGENT_AUDIT_INDEX');
  });

  it('names from a foreign file never reach the warning (no terminal escapes)', async () => {
    const t = await buildStore();
    fs.rmSync(indexFile(t));
    const db = new Database(indexFile(t));
    db.exec('CREATE TABLE "\u001b]0;owned\u0007" (x)');
    db.close();
    const warnings: IndexWarning[] = [];
    const reader = openStoreReader(t.dir, { onWarning: (w) => warnings.push(w) });
    expect(reader.listRuns()).toHaveLength(RUNS);
    reader.close();
    expect(warnings.map((w) => w.code)).toEqual(['INDEX_UNUSABLE']);
    const controls = [...warnings[0]!.message].filter((c) => {
      const code = c.charCodeAt(0);
      return code < 0x20 || (code >= 0x7f && code <= 0x9f);
    });
    expect(controls).toEqual([]);
  });

  it('reindex never removes a file it merely cannot write; it says what it needs', async () => {
    const t = await buildStore();
    const blocker = path.join(t.root, 'not-a-dir');
    fs.writeFileSync(blocker, 'keep me');
    expect(() => reindexStore(t.dir, { indexPath: path.join(blocker, 'index.sqlite') })).toThrow(
      /cannot open the index .* for writing; reindex needs write access/,
    );
    expect(fs.readFileSync(blocker, 'utf8')).toBe('keep me');
  });

  it('reindex says when the index path is not a file', async () => {
    const t = await buildStore();
    fs.rmSync(indexFile(t));
    fs.mkdirSync(indexFile(t));
    expect(() => reindexStore(t.dir)).toThrow(/is not a file; move it away/);
  });
});
