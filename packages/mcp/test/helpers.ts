import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));
export const SERVER = fileURLToPath(new URL('./fixtures/server.mjs', import.meta.url));
export const MANDATORY = ['agent.id', 'workflow.run_id', 'credential.ref', 'input.hash'];

export interface TrailSpan {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  name: string;
  kind: string;
  operation: string | null;
  service: string;
  tool: string | null;
  status: string;
  status_message: string | null;
  end: string | null;
  /** Started and never ended (only its start record is in the store). */
  incomplete: boolean;
  store: string;
  attributes: Record<string, unknown>;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** `agent-audit trail <runId> --json` over `stores`. */
export async function trail(
  runId: string,
  stores: string[],
  env: NodeJS.ProcessEnv,
): Promise<TrailSpan[]> {
  const args = ['trail', runId, '--json', ...stores.flatMap((s) => ['--store', s])];
  const result = await cli(args, env);
  if (result.code !== 0) throw new Error(`trail failed (${result.code}): ${result.stderr}`);
  return (JSON.parse(result.stdout) as { spans: TrailSpan[] }).spans;
}

/** The one span of `service` whose tool is `tool` (and operation `operation`). */
export function only(
  spans: TrailSpan[],
  where: { service?: string; tool?: string; operation?: string; name?: string },
): TrailSpan {
  const found = spans.filter(
    (s) =>
      (where.service === undefined || s.service === where.service) &&
      (where.tool === undefined || s.tool === where.tool) &&
      (where.operation === undefined || s.operation === where.operation) &&
      (where.name === undefined || s.name === where.name),
  );
  if (found.length !== 1) {
    throw new Error(
      `expected one span matching ${JSON.stringify(where)}, found ${found.length}: ${spans
        .map((s) => `${s.service}/${s.name}`)
        .join(', ')}`,
    );
  }
  return found[0]!;
}
