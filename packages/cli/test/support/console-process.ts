import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_BIN } from './run-cli.js';

export interface ConsoleProcess {
  url: string;
  stdout: () => string;
  stop(): Promise<void>;
}

/** Starts `agent-audit console` (the built bin) and waits for the address it prints. */
export async function startConsole(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<ConsoleProcess> {
  if (!existsSync(CLI_BIN))
    throw new Error(`${CLI_BIN} is missing: build first with "pnpm exec tsc -b"`);
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.AGENT_AUDIT_STORE_DIR;
  delete env.AGENT_AUDIT_TRUST_DIR;
  Object.assign(env, options.env);
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI_BIN, 'console', '--port', '0', ...args],
    {
      cwd: options.cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /\) at (http:\/\/\S+?)\/?\n/.exec(out);
      if (m) {
        clearInterval(timer);
        resolve(m[1]!);
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`console exited with ${code} before listening: ${err}`));
    });
  });
  return {
    url,
    stdout: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Every file under `dir` (relative path → sha256 of its bytes, and its mode/size), sorted. */
export function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = join(dir, rel, name);
      const st = statSync(path);
      if (st.isDirectory()) {
        out[`${join(rel, name)}/`] = `dir ${st.mode.toString(8)}`;
        walk(join(rel, name));
      } else {
        out[join(rel, name)] =
          `${st.mode.toString(8)} ${st.size} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
      }
    }
  };
  walk('');
  return out;
}

/**
 * Wait until the console's query indexes are ready (`GET /api/status`): the console listens at
 * once and builds them in a worker thread; searches answer 503 with the status until then.
 */
export async function waitForIndex(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ ready: boolean; stores: Array<{ phase: string }> }> {
  for (;;) {
    const answer = await fetch(`${url}/api/status`, { headers });
    const body = (await answer.json()) as {
      index: { ready: boolean; stores: Array<{ phase: string }> };
    };
    if (body.index.ready) return body.index;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
