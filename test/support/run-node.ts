import { spawn } from 'node:child_process';

/** What a finished node process gave: its exit code and everything it wrote. */
export interface NodeRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node <args…>` with exactly the environment given (nothing inherited), collecting its
 * output: the archive tests' agents and CLI calls, each seeing only the S3 settings they are
 * handed.
 */
export function runNode(
  args: string[],
  options: { cwd: string; env: Record<string, string | undefined> },
): Promise<NodeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
