import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import {
  type RunSummary,
  readStoreRetentionPolicy,
  type StoredRecord,
  type VerifyReport,
} from '@agent-audit/store';
import { type IndexWarning, openStoreReader, type StoreReader } from '@agent-audit/store/query';
import type { Location } from '../global-options.js';
import { explainRun, type RunExplanation } from '../run-explanation.js';
import type { TrailSpan } from '../trail-span.js';
import { type AlertView, readAlertStore } from './alert-source.js';
import { IndexClient, type IndexStatus } from './index-client.js';
import { mergeRuns } from './merge-runs.js';
import { ToolCallTable } from './tool-call-table.js';
import { verifyInWorker } from './verify-in-worker.js';

/** The trust material verify uses (the CLI's defaults: `public-key.pem` and `anchor.jsonl` of the trust dir). */
export interface ConsoleTrust {
  trustDir: string;
  publicKey?: string;
  anchorPath: string | false;
}

export interface ConsoleDataOptions {
  stores: Location[];
  alerts?: Location;
  /** Where the console keeps each store's query index: never inside a store (the console writes nothing there). */
  indexDir: string;
  trust: ConsoleTrust;
  /** The retention policy the stores are held against (ms); absent: no policy to check. */
  retentionMs?: number;
}

/** A store's retention against the policy: its oldest record, and whether it is kept past the policy. */
export interface StoreRetention {
  store: string;
  oldest_record: string | null;
  newest_record: string | null;
  policy_days: number | null;
  /** within: nothing older than the policy · overdue: records older than the policy are still kept (prune) · no_policy */
  status: 'within' | 'overdue' | 'no_policy' | 'empty';
}

/** One search of the runs list; every field optional (see docs/console-api.md). */
export interface RunQuery {
  run?: string;
  principal?: string;
  agent?: string;
  tool?: string;
  tenant?: string;
  credential?: string;
  decision?: string;
  status?: string;
  since?: Date;
  until?: Date;
  page?: number;
  pageSize?: number;
}

export interface ConsoleRun extends RunSummary {
  /** Stores holding records of the run. */
  stores: string[];
  /**
   * A run with no principal of its own whose remote caller only claimed one (never adopted), as
   * `runs --json` gives it; set on the rows of the page shown.
   */
  claimed_principal?: string;
}

export interface RunPage {
  runs: ConsoleRun[];
  total: number;
  /** False when `total` adds up several stores' counts (a run kept in two stores counts twice). */
  total_exact: boolean;
  /** start: newest start first · recent_activity: runs with the most recent records first (the unfiltered list of a large store). */
  order: 'start' | 'recent_activity';
  page: number;
  page_size: number;
  pages: number;
  /** Credential/decision filters answer from the tool calls read so far: false until the stores are read to their end. */
  complete: boolean;
}

/** A store's last verify result, in the terms of the integrity line. */
export interface StoreIntegrity {
  store: string;
  state: 'pending' | 'done' | 'failed';
  exit_code: number | null;
  status: string | null;
  head_seq: number | null;
  signed_through: number | null;
  checkpoints: number | null;
  keys: string[];
  anchor_checked: boolean;
  first_problem: { code: string; message: string } | null;
  verified_at: string | null;
  error: string | null;
}

/** One store's part in a run: which of its records, and how far a signed checkpoint covers them. */
export interface RunIntegrity {
  store: string;
  records: number;
  first_seq: number;
  last_seq: number;
  /** covered: every record of the run is under a trusted signed checkpoint; partly; none; unknown (verify not run yet / failed); tampered. */
  coverage: 'covered' | 'partly' | 'none' | 'unknown' | 'tampered';
  signed_through: number | null;
  keys: string[];
  verify_exit_code: number | null;
  verify_status: string | null;
}

interface OpenStore {
  location: Location;
  /** Segments only (records by seq, the head): run queries go to the query worker. */
  reader: StoreReader;
  /** Next seq the tail reads. */
  cursor: number;
  integrity: StoreIntegrity;
}

function pendingIntegrity(store: string): StoreIntegrity {
  return {
    store,
    state: 'pending',
    exit_code: null,
    status: null,
    head_seq: null,
    signed_through: null,
    checkpoints: null,
    keys: [],
    anchor_checked: false,
    first_problem: null,
    verified_at: null,
    error: null,
  };
}

/** Several stores holding more runs than this list them unfiltered by recent activity, a page at a time. */
const LANDING_FULL_LIST_RUNS = 20_000;

/** Runs kept loaded (spans and six answers) while the stores do not grow. */
const KEPT_RUNS = 8;

/**
 * What the console knows about its stores: a query reader per store (its index kept outside the
 * store), the tool-call table the dashboards read (filled by tailing each store), the alert
 * store's alerts, and each store's last verify result. Read-only: nothing here writes a store.
 */
export class ConsoleData {
  readonly table = new ToolCallTable();
  readonly warnings: IndexWarning[] = [];
  readonly #stores: OpenStore[];
  readonly #options: ConsoleDataOptions;
  #alerts: { alerts: AlertView[]; error: string | null; cursor: number } = {
    alerts: [],
    error: null,
    cursor: 1,
  };
  #cache: { key: string; runs: ConsoleRun[] } | undefined;
  readonly #runs = new Map<string, Promise<KeptRun>>();
  #tailed = false;
  #alertsReadAt = 0;
  readonly #index: IndexClient;
  /** Verify threads running (stopped on close). */
  readonly #verifiers = new Set<Worker>();

  constructor(options: ConsoleDataOptions) {
    this.#options = options;
    mkdirSync(options.indexDir, { recursive: true, mode: 0o700 });
    this.#stores = options.stores.map((location) => ({
      location,
      reader: openStoreReader(location.path, { index: false }),
      cursor: 1,
      integrity: pendingIntegrity(location.shown),
    }));
    // The query indexes are built, checked and queried in a worker thread: the console
    // answers at once, and `GET /api/status` tells how far indexing got.
    this.#index = new IndexClient(
      options.stores.map((location) => ({
        shown: location.shown,
        path: location.path,
        indexPath: join(
          options.indexDir,
          `${createHash('sha256').update(location.path).digest('hex').slice(0, 24)}.sqlite`,
        ),
      })),
      (warning) => {
        if (this.warnings.length < 100) this.warnings.push(warning);
      },
    );
  }

  /** How far each store's query index is (searches and run pages wait for it). */
  indexStatus(): IndexStatus {
    return this.#index.status();
  }

  get stores(): Location[] {
    return this.#stores.map((s) => s.location);
  }

  /** True once every store was read to its end at least once. */
  get caughtUp(): boolean {
    return this.#tailed;
  }

  /**
   * Read up to `budget` new records of the stores into the tool-call table (and new alerts).
   * Returns true when every store was read to its current end.
   */
  tail(budget = 20_000): boolean {
    let done = true;
    for (const s of this.#stores) {
      let left = budget;
      for (;;) {
        const records: StoredRecord[] = s.reader.recordsFrom(s.cursor, Math.min(5000, left));
        for (const r of records) {
          this.table.add(r.type, r.payload);
          s.cursor = r.seq + 1;
        }
        left -= records.length;
        if (records.length === 0) break;
        if (left <= 0) {
          done = false;
          break;
        }
      }
    }
    // The alert store is read at most once a second while the stores are being caught up.
    if (this.#options.alerts && (done || Date.now() - this.#alertsReadAt >= 1000)) {
      this.#alertsReadAt = Date.now();
      try {
        const read = readAlertStore(this.#options.alerts.path, this.#alerts.cursor);
        this.#alerts = {
          alerts: [...this.#alerts.alerts, ...read.alerts],
          error: null,
          cursor: read.nextSeq,
        };
      } catch (error) {
        this.#alerts = { ...this.#alerts, error: (error as Error).message };
      }
    }
    if (done) this.#tailed = true;
    return done;
  }

  alerts(): {
    configured: boolean;
    store: string | null;
    alerts: AlertView[];
    error: string | null;
  } {
    return {
      configured: this.#options.alerts !== undefined,
      store: this.#options.alerts?.shown ?? null,
      alerts: this.#alerts.alerts,
      error: this.#alerts.error,
    };
  }

  /**
   * The unfiltered list on a large store: the runs with the most recent records, a page at a
   * time from each store's index, without summarising every run. Undefined when the full path
   * is cheap enough (several stores holding few runs: their union is counted exactly there).
   */
  async #recentRuns(page: number, pageSize: number): Promise<RunPage | undefined> {
    const wanted = page * pageSize;
    const perStore = await Promise.all(
      this.#stores.map(async (s, i) => ({
        store: s.location.shown,
        ...(await this.#index.recentRuns(i, 0, wanted)),
      })),
    );
    const sum = perStore.reduce((n, s) => n + s.total, 0);
    if (perStore.length > 1 && sum <= LANDING_FULL_LIST_RUNS) return undefined;
    const merged = mergeRuns(perStore).sort((x, y) => (x.end < y.end ? 1 : x.end > y.end ? -1 : 0));
    const pages = Math.max(1, Math.ceil(sum / pageSize));
    return {
      runs: merged.slice((page - 1) * pageSize, page * pageSize),
      total: sum,
      total_exact: perStore.length === 1,
      page,
      page_size: pageSize,
      pages,
      complete: this.#tailed,
      order: 'recent_activity',
    };
  }

  /** Runs matching the query, newest first, one page of them. */
  async searchRuns(query: RunQuery): Promise<RunPage> {
    return this.#markClaimed(await this.#searchRuns(query));
  }

  /** The page's rows without a principal get the principal a remote caller only claimed. */
  async #markClaimed(page: RunPage): Promise<RunPage> {
    const unattributed = page.runs.filter((r) => r.principal === null).map((r) => r.run_id);
    if (unattributed.length === 0) return page;
    const claimed = await this.#index.claimedPrincipals(unattributed);
    return {
      ...page,
      runs: page.runs.map((r) =>
        claimed[r.run_id] === undefined ? r : { ...r, claimed_principal: claimed[r.run_id] },
      ),
    };
  }

  async #searchRuns(query: RunQuery): Promise<RunPage> {
    const pageSize = Math.min(500, Math.max(1, query.pageSize ?? 50));
    const unfiltered = (
      [
        'run',
        'principal',
        'agent',
        'tool',
        'tenant',
        'credential',
        'decision',
        'status',
        'since',
        'until',
      ] as const
    ).every((k) => query[k] === undefined);
    if (unfiltered) {
      const recent = await this.#recentRuns(Math.max(1, query.page ?? 1), pageSize);
      if (recent) return recent;
    }
    const filter = {
      ...(query.principal ? { principal: query.principal } : {}),
      ...(query.agent ? { agent: query.agent } : {}),
      ...(query.tool ? { tool: query.tool } : {}),
      ...(query.tenant ? { tenant: query.tenant } : {}),
      ...(query.since ? { since: query.since } : {}),
      ...(query.until ? { until: query.until } : {}),
    };
    const key = JSON.stringify([filter, this.#stores.map((s) => s.reader.head()?.seq ?? 0)]);
    let runs: ConsoleRun[];
    if (this.#cache?.key === key) {
      runs = this.#cache.runs;
    } else {
      runs = mergeRuns(
        await Promise.all(
          this.#stores.map(async (s, i) => ({
            store: s.location.shown,
            runs: await this.#index.listRuns(i, filter),
          })),
        ),
      );
      this.#cache = { key, runs };
    }
    if (query.run) {
      const needle = query.run;
      runs = runs.filter((r) => r.run_id.includes(needle));
    }
    if (query.status) runs = runs.filter((r) => r.status === query.status);
    if (query.credential !== undefined && query.decision === undefined) {
      // Runs that issued or used the credential (as `runs --credential`), from each store's
      // index: complete once the index is ready, whatever the tool call table has read yet.
      const ref = query.credential;
      const allowed = new Set(
        (await Promise.all(this.#stores.map((_, i) => this.#index.credentialRuns(i, ref)))).flat(),
      );
      runs = runs.filter((r) => allowed.has(r.run_id));
    } else if (query.credential !== undefined || query.decision !== undefined) {
      // Tool calls that used the credential and got the decision: the same call, from the table.
      const allowed = this.table.runsWith({
        ...(query.credential ? { credential: query.credential } : {}),
        ...(query.decision ? { decision: query.decision } : {}),
      });
      runs = runs.filter((r) => allowed.has(r.run_id));
    }
    const pages = Math.max(1, Math.ceil(runs.length / pageSize));
    const page = Math.min(pages, Math.max(1, query.page ?? 1));
    return {
      runs: runs.slice((page - 1) * pageSize, page * pageSize),
      total: runs.length,
      total_exact: true,
      page,
      page_size: pageSize,
      pages,
      complete: this.#tailed,
      order: 'start',
    };
  }

  /**
   * A run's timeline across every store, and which records of each store hold it. The last few
   * runs opened are kept while no store has grown (a run page is often opened again: a link
   * shared in an incident channel); a run being loaded is loaded once (a run page and its
   * timeline, asked for together, share one read). The worker reads each store's records once
   * and builds the spans, the six answers and the waterfall body from that one read.
   */
  async loadRun(runId: string): Promise<LoadedRun> {
    const key = JSON.stringify([runId, this.#stores.map((s) => s.reader.head()?.seq ?? 0)]);
    let kept = this.#runs.get(key);
    if (!kept) {
      const loading = this.#loadRun(runId);
      kept = loading;
      this.#runs.set(key, loading);
      if (this.#runs.size > KEPT_RUNS) this.#runs.delete(this.#runs.keys().next().value!);
      // Neither a failure nor an unknown run is kept (the next request asks again).
      const forget = () => {
        if (this.#runs.get(key) === loading) this.#runs.delete(key);
      };
      loading.then((run) => {
        if (run.spans.length === 0) forget();
      }, forget);
    }
    const run = await kept;
    // Integrity follows the latest verify result, which changes without the stores growing.
    return {
      spans: run.spans,
      explanation: run.explanation,
      timeline: run.timeline,
      integrity: this.#runIntegrity(run.records),
    };
  }

  #runIntegrity(records: HeldRecords[]): RunIntegrity[] {
    return records.map((held) => runIntegrity(this.#stores[held.store]!.integrity, held));
  }

  async #loadRun(runId: string): Promise<KeptRun> {
    const view = await this.#index.runView(
      runId,
      this.#stores.map((s) => s.location.shown),
    );
    return {
      spans: view.spans,
      explanation: view.explanation ?? explainRun(runId, view.spans),
      records: view.held,
      timeline: view.timeline
        ? { text: Buffer.from(view.timeline.text), gzip: Buffer.from(view.timeline.gzip) }
        : undefined,
    };
  }

  retention(now: Date): StoreRetention[] {
    return this.#stores.map((s) => {
      // The policy the store records wins over the console's own option.
      const policy = recordedMaxAge(s.location.path) ?? this.#options.retentionMs;
      const oldest = s.reader.recordsFrom(1, 1)[0]?.time ?? null;
      const head = s.reader.head();
      const newest = head ? (s.reader.recordsFrom(head.seq, 1)[0]?.time ?? null) : null;
      const status: StoreRetention['status'] =
        oldest === null
          ? 'empty'
          : policy === undefined
            ? 'no_policy'
            : Date.parse(oldest) < now.getTime() - policy
              ? 'overdue'
              : 'within';
      return {
        store: s.location.shown,
        oldest_record: oldest,
        newest_record: newest,
        policy_days: policy === undefined ? null : policy / 86_400_000,
        status,
      };
    });
  }

  integrity(): StoreIntegrity[] {
    return this.#stores.map((s) => s.integrity);
  }

  /** Verify every store (the store's verify API, read-only, in a worker thread) and keep the results. */
  async verifyAll(): Promise<void> {
    for (const s of this.#stores) {
      s.integrity = { ...s.integrity, state: 'pending' };
      try {
        const report = await verifyInWorker(this.#verifiers, {
          dir: s.location.path,
          trustDir: this.#options.trust.trustDir,
          ...(this.#options.trust.publicKey ? { publicKey: this.#options.trust.publicKey } : {}),
          anchorPath: this.#options.trust.anchorPath,
        });
        s.integrity = integrityOf(s.location.shown, report);
      } catch (error) {
        s.integrity = {
          ...pendingIntegrity(s.location.shown),
          state: 'failed',
          error: (error as Error).message,
        };
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#verifiers].map((w) => w.terminate()));
    await this.#index.close();
    for (const s of this.#stores) {
      try {
        s.reader.close();
      } catch {
        // read-only handles: nothing to lose
      }
    }
  }
}

function integrityOf(store: string, report: VerifyReport): StoreIntegrity {
  const first = report.problems[0];
  return {
    store,
    state: 'done',
    exit_code: report.exitCode,
    status: report.status,
    head_seq: report.headSeq,
    signed_through: report.signedThrough,
    checkpoints: report.checkpoints,
    keys: report.trustedKeys,
    anchor_checked: report.anchorChecked,
    first_problem: first ? { code: first.code, message: first.message } : null,
    verified_at: new Date().toISOString(),
    error: null,
  };
}

/** A run as the console keeps it: spans, six answers, where its records lie, the waterfall body. */
interface KeptRun {
  spans: TrailSpan[];
  explanation: RunExplanation;
  records: HeldRecords[];
  timeline: { text: Buffer; gzip: Buffer } | undefined;
}

/** A loaded run, with its integrity as of the latest verify result. */
export interface LoadedRun {
  spans: TrailSpan[];
  integrity: RunIntegrity[];
  explanation: RunExplanation;
  /** The waterfall (`GET /api/runs/<id>/timeline`) as JSON, plain and gzipped. */
  timeline: { text: Buffer; gzip: Buffer } | undefined;
}

/** Where a run's records lie in one store. */
interface HeldRecords {
  store: number;
  count: number;
  first: number;
  last: number;
}

function runIntegrity(store: StoreIntegrity, held: HeldRecords): RunIntegrity {
  const { first, last } = held;
  let coverage: RunIntegrity['coverage'] = 'unknown';
  if (store.state === 'done') {
    const signed = store.signed_through ?? 0;
    coverage =
      store.exit_code === 1
        ? 'tampered'
        : last <= signed
          ? 'covered'
          : first <= signed
            ? 'partly'
            : 'none';
  }
  return {
    store: store.store,
    records: held.count,
    first_seq: first,
    last_seq: last,
    coverage,
    signed_through: store.signed_through,
    keys: store.keys,
    verify_exit_code: store.exit_code,
    verify_status: store.status,
  };
}

/**
 * The maximum age a store's recorded retention policy sets (its default, else its largest
 * tenant maximum); a record that cannot be trusted counts as none (the integrity check reports it).
 */
function recordedMaxAge(dir: string): number | undefined {
  try {
    const p = readStoreRetentionPolicy(dir);
    const tenants = Object.values(p?.tenants ?? {})
      .map((t) => t.maxAgeMs)
      .filter((m): m is number => m !== undefined);
    return p?.maxAgeMs ?? (tenants.length ? Math.max(...tenants) : undefined);
  } catch {
    return undefined;
  }
}
