import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/run-cli.js';
import { writeStore } from './support/write-store.js';

// One writer per store: an orchestrator and its sub-agent process each keep their own store,
// and one run spans both. Reading commands take --store once per store.
describe('a run kept in two stores', () => {
  const root = mkdtempSync(join(tmpdir(), 'cli-multi-'));
  const orchestrator = join(root, 'orchestrator');
  const subAgent = join(root, 'sub-agent');
  const env = { AGENT_AUDIT_TRUST_DIR: join(root, 'trust') };
  const both = ['--store', orchestrator, '--store', subAgent];

  beforeAll(async () => {
    await writeStore(orchestrator, join(root, 'trust'), [
      { runId: 'run-x', service: 'orchestrator' },
    ]);
    await writeStore(subAgent, join(root, 'trust'), [{ runId: 'run-x', service: 'sub-agent' }]);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('trail merges both stores into one timeline, each span naming its store', async () => {
    const one = JSON.parse(
      (await runCli(['--store', orchestrator, 'trail', 'run-x', '--json'], { env })).stdout,
    );
    expect(one.spans.map((s: { name: string }) => s.name)).not.toContain('POST /tasks');
    const r = await runCli([...both, 'trail', 'run-x', '--json'], { env });
    expect(r.code).toBe(0);
    const spans = JSON.parse(r.stdout).spans;
    expect(spans).toHaveLength(11);
    const server = spans.find((s: { name: string }) => s.name === 'POST /tasks');
    expect(server).toMatchObject({ depth: 1, service: 'sub-agent', store: subAgent });
    expect(spans.find((s: { tool: string }) => s.tool === 'fetch_doc')).toMatchObject({
      depth: 2,
      store: subAgent,
    });
    expect(spans[0]).toMatchObject({ depth: 0, store: orchestrator });
  });

  it('runs sums the run over both stores; a filter that matches one part finds the run', async () => {
    const r = await runCli([...both, 'runs', '--json'], { env });
    expect(r.code).toBe(0);
    const runs = JSON.parse(r.stdout);
    expect(runs).toHaveLength(1);
    const [a, b] = [orchestrator, subAgent].map(
      async (dir) =>
        JSON.parse((await runCli(['--store', dir, 'runs', '--json'], { env })).stdout)[0].spans,
    );
    expect(runs[0].spans).toBe((await a) + (await b));
    const byTool = JSON.parse(
      (await runCli([...both, 'runs', '--tool', 'fetch_doc', '--json'], { env })).stdout,
    );
    expect(byTool.map((x: { run_id: string }) => x.run_id)).toEqual(['run-x']);
    expect(byTool[0].spans).toBe(runs[0].spans);
  });

  it('forward ships each store in turn (to an endpoint that is down: both report it)', async () => {
    const r = await runCli(
      [...both, 'forward', '--json', '--endpoint', 'http://127.0.0.1:9/v1/traces'],
      { env },
    );
    expect(r.code).toBe(1);
    const results = JSON.parse(r.stdout);
    expect(results).toHaveLength(2);
    for (const result of results) expect(result).toMatchObject({ ok: false, delivered: 0 });
  });

  it('explain answers from both stores', async () => {
    const x = JSON.parse((await runCli([...both, 'explain', 'run-x', '--json'], { env })).stdout);
    expect(x.context.agents.map((a: { agent_id: string }) => a.agent_id)).toEqual([
      'support-agent',
      'research-agent',
    ]);
  });

  it('verify checks each store in turn, and the worst verdict is the exit code', async () => {
    const ok = await runCli([...both, 'verify', '--json'], { env });
    expect(ok.code).toBe(0);
    const reports = JSON.parse(ok.stdout);
    expect(reports.map((r: { exitCode: number }) => r.exitCode)).toEqual([0, 0]);
    // One byte changed in the second store: the pair is tampered.
    const segments = join(subAgent, 'segments');
    const file = join(
      segments,
      readdirSync(segments)
        .filter((f) => f.endsWith('.jsonl'))
        .sort()[0]!,
    );
    const bytes = readFileSync(file);
    const at = bytes.indexOf('fetch_doc');
    bytes[at] = 'F'.charCodeAt(0);
    writeFileSync(file, bytes);
    const bad = await runCli([...both, 'verify'], { env });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^VERIFIED: .*orchestrator/m);
    expect(bad.stdout).toMatch(/^TAMPERED: .*sub-agent/m);
  });

  it('status and prune take one store', async () => {
    const r = await runCli([...both, 'status'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/status works on one store at a time, but --store was given 2 times/);
  });
});
