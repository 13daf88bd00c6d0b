import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { connect } from 'node:net';

/** A child process started by the test harness, with its output appended to a log file. */
export interface ManagedProcessOptions {
  /** Shown in error messages, e.g. `jaeger` or `collector`. */
  name: string;
  command: string;
  args: string[];
  /** The child's complete environment (nothing is inherited implicitly). */
  env: NodeJS.ProcessEnv;
  /** stdout and stderr of every start are appended here. */
  logFile: string;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

// Every child still running, so an exiting test worker can take them down with it: afterAll
// hooks run on failing tests too, but not when the worker itself dies or is interrupted. Kept on
// globalThis: a test runner that re-evaluates this module per test file in one worker must not
// stack up exit and signal handlers.
interface Registry {
  live: Set<ManagedProcess>;
}
const REGISTRY_KEY = Symbol.for('agent-audit.test.managed-processes');

function registry(): Registry {
  const holder = globalThis as { [REGISTRY_KEY]?: Registry };
  let existing = holder[REGISTRY_KEY];
  if (!existing) {
    const created: Registry = { live: new Set() };
    existing = created;
    holder[REGISTRY_KEY] = created;
    const killAllNow = () => {
      for (const proc of created.live) proc.killNow();
    };
    process.on('exit', killAllNow);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const handler = () => {
        killAllNow();
        // Only re-raise when nobody else handles the signal; our listener must not change how
        // the test runner reacts to it.
        if (process.listenerCount(signal) === 1) {
          process.removeListener(signal, handler);
          process.kill(process.pid, signal);
        }
      };
      process.on(signal, handler);
    }
  }
  return existing;
}

export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  private readonly options: ManagedProcessOptions;
  private child: ChildProcess | undefined;
  private exitPromise: Promise<ProcessExit> | undefined;
  private lastExit: ProcessExit | undefined;
  private starts = 0;

  constructor(options: ManagedProcessOptions) {
    this.options = options;
    this.name = options.name;
    this.logFile = options.logFile;
    registry();
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.lastExit === undefined;
  }

  /** How the last run ended, or undefined while running / never started. */
  get exit(): ProcessExit | undefined {
    return this.lastExit;
  }

  start(): void {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    this.starts += 1;
    const fd = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      writeSync(
        fd,
        `\n===== ${this.name} start #${this.starts} at ${new Date().toISOString()}: ` +
          `${this.options.command} ${this.options.args.join(' ')}\n`,
      );
      child = spawn(this.options.command, this.options.args, {
        env: this.options.env,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      // The child holds its own copy of the descriptor.
      closeSync(fd);
    }
    this.child = child;
    this.lastExit = undefined;
    registry().live.add(this);
    this.exitPromise = new Promise<ProcessExit>((resolve) => {
      child.once('error', (err) => {
        this.lastExit = { code: null, signal: null };
        registry().live.delete(this);
        resolve(this.lastExit);
        appendLog(this.logFile, `${this.name}: spawn failed: ${err.message}\n`);
      });
      child.once('exit', (code, signal) => {
        this.lastExit = { code, signal };
        registry().live.delete(this);
        resolve(this.lastExit);
      });
    });
  }

  /** Resolves when the current run has ended (immediately when not running). */
  async exited(): Promise<ProcessExit | undefined> {
    if (!this.exitPromise) return undefined;
    return this.exitPromise;
  }

  /** SIGTERM, and SIGKILL when the process has not exited after `graceMs`. Idempotent. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running || !this.child) return;
    this.child.kill('SIGTERM');
    const exited = this.exitPromise!;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      appendLog(
        this.logFile,
        `${this.name}: no exit ${graceMs} ms after SIGTERM, sending SIGKILL\n`,
      );
      this.child.kill('SIGKILL');
      await exited;
    }
  }

  /** SIGKILL: the crash case (no shutdown hooks run). Resolves once the process is gone. */
  async kill(): Promise<void> {
    if (!this.running || !this.child) return;
    this.child.kill('SIGKILL');
    await this.exitPromise;
  }

  /** Synchronous SIGKILL for exit handlers, where nothing can be awaited. */
  killNow(): void {
    if (this.running) this.child?.kill('SIGKILL');
  }

  /** The last `lines` lines of the log file, for error messages. */
  logTail(lines = 40): string {
    if (!existsSync(this.logFile)) return '(no log file)';
    const text = readFileSync(this.logFile, 'utf8');
    const all = text.trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  }
}

function appendLog(file: string, text: string): void {
  try {
    const fd = openSync(file, 'a');
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
  } catch {
    // The log is a diagnostic aid; losing a line must not fail the test.
  }
}

/** Keep a harness's work directory and logs after the test: `AGENT_AUDIT_KEEP_TEST_LOGS=1`. */
export function keepLogs(): boolean {
  return process.env.AGENT_AUDIT_KEEP_TEST_LOGS === '1';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Does something accept TCP connections on 127.0.0.1:`port` (within a second)? */
export function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/**
 * Polls `check` every `intervalMs` until it resolves true. Throws, with the process's log tail,
 * when the process exits first or `timeoutMs` passes (then the process is killed). A throwing
 * check counts as not yet, its error goes into the timeout message.
 */
export async function waitUntil(
  proc: ManagedProcess,
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs: number,
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (!proc.running) {
      const exit = proc.exit;
      throw new Error(
        `${proc.name} exited (${exit?.signal ?? `code ${exit?.code}`}) before it was ${what}; ` +
          `log ${proc.logFile}:\n${proc.logTail()}`,
      );
    }
    try {
      if (await check()) return;
    } catch (err) {
      lastError = String(err);
    }
    await sleep(intervalMs);
  }
  await proc.kill();
  throw new Error(
    `${proc.name}: not ${what} within ${timeoutMs} ms${lastError ? ` (last error: ${lastError})` : ''}; ` +
      `log ${proc.logFile}:\n${proc.logTail()}`,
  );
}
