import { join } from 'node:path';
import type { Alert } from './alert.js';
import { AlertStore } from './alert-store.js';
import { Detector, type DetectorState } from './detector.js';
import { SinkOutbox } from './sink-outbox.js';
import { otlpLogsSink, type Sink, slackSink, stdoutSink, webhookSink } from './sinks.js';
import { readJson, writeJsonAtomic } from './state-file.js';
import { StoreFollower } from './store-follower.js';
import { toolCallOf } from './tool-call.js';
import type { WatchConfig } from './watch-config.js';

/** The watcher's persisted state: one cursor per store, and the detectors' baselines. */
interface WatchState {
  version: 1;
  cursors: Record<string, { origin: string; nextSeq: number }>;
  detector: DetectorState;
  updatedAt: string;
}

export interface WatcherOptions {
  /** Lines for stdout (the stdout sink). */
  writeOut?: (text: string) => void;
  /** Notices (clock jumps, damaged records, sink failures): one line each, for stderr. */
  writeErr?: (text: string) => void;
  /** Print alerts on stdout as JSON lines instead of text. */
  json?: boolean;
  /** Extra sinks (tests, embedding applications). */
  sinks?: Sink[];
  env?: NodeJS.ProcessEnv;
  /** Called once per alert appended to the alert store (after it is durable). */
  onAlert?: (alert: Alert) => void;
  /** Records read per store per step. */
  batchSize?: number;
}

export interface StepResult {
  records: number;
  /** Damaged records passed over (named on stderr). */
  skipped: number;
  toolCalls: number;
  alerts: Alert[];
}

/**
 * `agent-audit watch`: follows the configured stores by persisted cursors, runs the detectors
 * over every durable tool call, appends the alerts to the watcher's own audit store and hands
 * them to the sinks through the outbox.
 *
 * Order of a step, which is what makes a restart neither miss nor repeat an alert: read a
 * batch → detect (deterministic ids) → append the new alerts and wait until they are durable
 * → write cursors and baselines in one atomic rename (at most once a second while records
 * keep coming, and at every idle step). A crash before the rename re-reads from the old state,
 * which raises the same alerts with the same ids; those already in the alert store are not
 * appended again.
 */
export class Watcher {
  readonly config: WatchConfig;
  readonly alerts: AlertStore;
  readonly #followers: StoreFollower[];
  readonly #detector: Detector;
  readonly #outboxes: SinkOutbox[];
  readonly #stateFile: string;
  readonly #options: WatcherOptions;
  #stopped = false;
  #idleSince: number | undefined;
  #dirty = false;
  #savedAt = 0;
  #wake: (() => void) | undefined;

  constructor(config: WatchConfig, options: WatcherOptions = {}) {
    this.config = config;
    this.#options = options;
    this.#stateFile = join(config.stateDir, 'state.json');
    const saved = readJson<WatchState>(this.#stateFile, 'watch state');
    if (saved && saved.version !== 1) {
      throw new Error(
        `the watch state ${this.#stateFile} is not a version 1 state; move it aside to start again`,
      );
    }
    this.#followers = config.stores.map(
      (s) => new StoreFollower(s.dir, s.trustDir, saved?.cursors[s.dir]),
    );
    this.#detector = new Detector(config, saved?.detector);
    this.alerts = new AlertStore(config.alertsDir, config.alertsTrustDir, (m) => this.#note(m));
    const env = options.env ?? process.env;
    const write = options.writeOut ?? ((t: string) => process.stdout.write(t));
    this.#outboxes = [
      ...config.sinks.map((c) => {
        const sink =
          c.type === 'stdout'
            ? stdoutSink(write, options.json ?? false)
            : c.type === 'webhook'
              ? webhookSink(c, env)
              : c.type === 'otlp'
                ? otlpLogsSink(c)
                : slackSink(c);
        return new SinkOutbox(sink, config.stateDir, config.alertsDir, c, (m) => this.#note(m));
      }),
      ...(options.sinks ?? []).map(
        (s) =>
          new SinkOutbox(
            s,
            config.stateDir,
            config.alertsDir,
            { backoffMs: 200, maxBackoffMs: 5000 },
            (m) => this.#note(m),
          ),
      ),
    ];
  }

  #note(message: string): void {
    (this.#options.writeErr ?? ((t: string) => process.stderr.write(t)))(
      `agent-audit watch: ${message}\n`,
    );
  }

  /** One pass over every store: new records → alerts (durable) → state. */
  async step(flush = false): Promise<StepResult> {
    const result: StepResult = { records: 0, skipped: 0, toolCalls: 0, alerts: [] };
    const found: Alert[] = [];
    const notices: { code: string; message: string }[] = [];
    for (const follower of this.#followers) {
      const batch = follower.poll(this.#options.batchSize ?? 10_000, notices);
      if (!batch) continue;
      result.skipped += batch.skipped ?? 0;
      for (const record of batch.records) {
        result.records++;
        const call = toolCallOf(record, batch.origin, follower.dir);
        if (!call) continue;
        result.toolCalls++;
        found.push(...this.#detector.observe(call, notices));
      }
    }
    // Held execution_time alerts are judged once nothing new came for a second (or at the end
    // of --once): the traffic did not resume after them.
    let flushed = 0;
    if (result.records === 0 && result.skipped === 0) {
      this.#idleSince ??= Date.now();
      if (flush || Date.now() - this.#idleSince >= 1000) {
        const held = this.#detector.flush(notices);
        flushed = held.length;
        found.push(...held);
      }
    } else {
      this.#idleSince = undefined;
    }
    for (const n of notices) this.#note(`${n.code}: ${n.message}`);
    const fresh = await this.alerts.append(found);
    result.alerts = fresh;
    // The state (cursors, baselines) is the commit point; saved at most once a second while
    // records keep coming, and whenever a step finds nothing new. Records read since the last
    // save are read again after a crash and raise the same alert ids, which are not appended
    // twice (the alert store knows them).
    if (result.records > 0 || notices.length > 0 || flushed > 0) this.#dirty = true;
    const idle = result.records === 0 && result.skipped === 0;
    if (this.#dirty && (idle || Date.now() - this.#savedAt >= 1000)) {
      this.#saveState();
      this.#dirty = false;
      this.#savedAt = Date.now();
    }
    for (const a of fresh) this.#options.onAlert?.(a);
    return result;
  }

  #saveState(): void {
    const cursors: WatchState['cursors'] = {};
    for (const f of this.#followers) {
      const c = f.cursor;
      if (c) cursors[f.dir] = c;
    }
    writeJsonAtomic(this.#stateFile, {
      version: 1,
      cursors,
      detector: this.#detector.state(),
      updatedAt: new Date().toISOString(),
    } satisfies WatchState);
  }

  /** Hands every durable alert not yet accepted to each sink (failures wait with backoff). */
  async deliver(): Promise<void> {
    const head = this.alerts.headSeq;
    await Promise.all(this.#outboxes.map((o) => o.pump(head)));
  }

  /** Alerts not yet accepted by some sink (for `--once`'s exit status). */
  get undelivered(): boolean {
    const head = this.alerts.headSeq;
    return this.#outboxes.some((o) => o.nextSeq <= head && o.failing);
  }

  /** Steps until the stores hold nothing new, then delivers (the `--once` mode). */
  async runOnce(): Promise<StepResult> {
    const total: StepResult = { records: 0, skipped: 0, toolCalls: 0, alerts: [] };
    for (;;) {
      const r = await this.step(true);
      total.records += r.records;
      total.skipped += r.skipped;
      total.toolCalls += r.toolCalls;
      total.alerts.push(...r.alerts);
      if (r.records === 0 && r.skipped === 0) break;
    }
    await this.deliver();
    return total;
  }

  /** Follows the stores until {@link stop}: a step every `poll_ms` (sooner while catching up). */
  async run(): Promise<void> {
    let delivering: Promise<void> = Promise.resolve();
    while (!this.#stopped) {
      const r = await this.step();
      delivering = delivering.then(() => this.deliver());
      if (r.records > 0 || r.skipped > 0) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.config.pollMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    await delivering;
  }

  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }

  async close(): Promise<void> {
    if (this.#dirty) this.#saveState();
    this.#dirty = false;
    for (const f of this.#followers) f.close();
    await this.alerts.close();
  }
}
