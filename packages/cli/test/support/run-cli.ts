import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built bin, exactly what `pnpm -s agent-audit` runs (built by `tsc -b`). */
export const CLI_BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI as a child process. The environment is cleared of the store/trust variables
 * unless a test sets them, so a developer's own shell cannot change the outcome.
 */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  if (!existsSync(CLI_BIN)) {
    throw new Error(
      `${CLI_BIN} is missing: build first with "pnpm exec tsc -b" (pnpm test does it)`,
    );
  }
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.AGENT_AUDIT_STORE_DIR;
  delete env.AGENT_AUDIT_TRUST_DIR;
  Object.assign(env, options.env);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_BIN, ...args],
      { cwd: options.cwd, env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
