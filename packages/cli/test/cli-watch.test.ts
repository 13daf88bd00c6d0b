import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditStore } from '@agent-audit/store';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type CallSpec,
  normalCalls,
  plantedCalls,
  toolCallEntry,
} from '../../watch/test/support/tool-records.js';
import { CLI_BIN, runCli } from './support/run-cli.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const root = mkdtempSync(join(tmpdir(), 'aa-cli-watch-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const CONFIG = `# agent-audit watch configuration (test)
stores:
  - dir: store
    trust_dir: trust
alerts:
  dir: alerts
  trust_dir: alerts-trust
state_dir: state
poll_ms: 50
sinks:
  - type: stdout
`;

async function writeCalls(dir: string, calls: CallSpec[]): Promise<void> {
  const store = AuditStore.open({ dir: join(dir, 'store'), trustDir: join(dir, 'trust') });
  await store.appendBatch(calls.map(toolCallEntry));
  await store.close();
}

interface AlertJson {
  id: string;
  pattern: string;
  run_ids: string[];
  explain: string;
  severity: string;
  agent_id: string;
  tool: string;
  baseline: unknown;
  observed: unknown;
  window_s: unknown;
}

describe('agent-audit watch / detect / alerts', () => {
  const dir = join(root, 'one');
  const planted = plantedCalls(T0 + 400_000);

  it('watch --once --json: one alert a line, every planted pattern with its run ids', async () => {
    await writeCalls(dir, [...normalCalls(T0, 400), ...planted.calls]);
    writeFileSync(join(dir, 'agent-audit-watch.yaml'), CONFIG);
    const r = await runCli(['watch', '--once', '--json'], { cwd: dir });
    expect(r.stderr).not.toMatch(/unexpected/);
    expect(r.code).toBe(0);
    const alerts = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AlertJson);
    for (const [pattern, runId] of Object.entries(planted.runs)) {
      expect(
        alerts.some((a) => a.pattern === pattern && a.run_ids.includes(runId)),
        pattern,
      ).toBe(true);
    }
    for (const a of alerts) {
      expect(Object.keys(a)).toEqual(
        expect.arrayContaining([
          'id',
          'pattern',
          'severity',
          'agent_id',
          'tool',
          'run_ids',
          'baseline',
          'observed',
          'window_s',
          'explain',
        ]),
      );
      expect(a.explain).toBe(`agent-audit explain ${a.run_ids[0]} --store ${join(dir, 'store')}`);
    }
    // Again: nothing new, nothing repeated.
    const again = await runCli(['watch', '--once', '--json'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('');

    const listed = await runCli(['alerts', '--json', '--since', '1h'], { cwd: dir });
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as AlertJson[]).map((a) => a.id)).toEqual(
      alerts.map((a) => a.id),
    );
    const text = await runCli(['alerts', '--store', 'alerts'], { cwd: dir });
    expect(text.stdout).toMatch(
      /support-agent decision=stop reason=refund above limit tool=lookup_order tenant=acme run_id=planted-policy/,
    );

    const verified = await runCli(['verify', '--store', 'alerts'], {
      cwd: dir,
      env: { AGENT_AUDIT_TRUST_DIR: join(dir, 'alerts-trust') },
    });
    expect(verified.stdout + verified.stderr).toMatch(/verified/i);
    expect(verified.code).toBe(0);

    const detected = await runCli(['detect', '--since', '2026-03-01', '--json'], { cwd: dir });
    expect(detected.code).toBe(0);
    const history = JSON.parse(detected.stdout) as AlertJson[];
    expect(history.map((a) => a.id).sort()).toEqual(alerts.map((a) => a.id).sort());
  });

  it('a bad configuration names the file, the key and the fix', async () => {
    const bad = join(root, 'bad.yaml');
    writeFileSync(bad, 'stores: [store]\npatterns:\n  output_size:\n    factor: "four"\n');
    const r = await runCli(['watch', '--once', '--config', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `Configuration: patterns.output_size.factor is invalid, expected a number from 1 (actual: "four"); fix it in ${bad}`,
    );
    writeFileSync(bad, 'stores: [store]\nsinks:\n  - type: pager\n');
    expect((await runCli(['watch', '--once', '--config', bad])).stderr).toContain(
      'sinks[0].type is invalid, expected stdout, webhook, slack or otlp',
    );
    const missing = await runCli(['detect', '--since', '1h', '--config', join(root, 'nope.yaml')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('cannot read the watch configuration');
  });

  it('killed mid-stream (SIGKILL) and restarted: the alert store holds exactly the alerts of an uninterrupted run', async () => {
    const live = join(root, 'live');
    const store = AuditStore.open({ dir: join(live, 'store'), trustDir: join(live, 'trust') });
    writeFileSync(join(live, 'agent-audit-watch.yaml'), CONFIG);
    const child = spawn(process.execPath, [CLI_BIN, 'watch', '--json'], {
      cwd: live,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise((r) => child.once('exit', r));
    let printed = '';
    let errors = '';
    child.stderr.on('data', (c: Buffer) => {
      errors += c.toString();
    });
    child.stdout.on('data', (c: Buffer) => {
      printed += c.toString();
    });
    const normal = normalCalls(T0, 400);
    const traffic = [
      ...normal.slice(0, 900),
      ...plantedCalls(T0 + 300_000).calls.filter((c) => c.runId === 'planted-policy'),
      ...normal.slice(900),
      ...planted.calls,
      ...normalCalls(T0 + 500_000, 50, 3, 1000, 'run-late'),
      ...plantedCalls(T0 + 600_000).calls.map((c) => ({ ...c, runId: `${c.runId}-2` })),
    ].sort((a, b) => a.atMs - b.atMs);
    let killed = false;
    for (let i = 0; i < traffic.length; i += 40) {
      const batch = traffic.slice(i, i + 40);
      await store.appendBatch(batch.map(toolCallEntry));
      await new Promise((r) => setTimeout(r, 5));
      if (!killed && batch.some((c) => c.runId === 'planted-policy')) {
        // Mid-stream: once the watcher printed its first alert, kill it while records keep coming.
        for (let t = 0; t < 400 && !printed.includes('"pattern"'); t++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        child.kill('SIGKILL');
        killed = true;
      }
    }
    await store.close();
    if (!killed) child.kill('SIGKILL');
    await exited;
    expect(killed).toBe(true); // it was killed while records were still arriving
    expect(printed, errors).toContain('"pattern"');
    const restarted = await runCli(['watch', '--once', '--json'], { cwd: live });
    expect(restarted.code).toBe(0);

    // The reference: the same store read in one uninterrupted pass into fresh alert and state dirs.
    const ref = join(root, 'ref');
    cpSync(join(live, 'store'), join(ref, 'store'), { recursive: true });
    cpSync(join(live, 'trust'), join(ref, 'trust'), { recursive: true });
    writeFileSync(join(ref, 'agent-audit-watch.yaml'), CONFIG);
    const reference = await runCli(['watch', '--once', '--json'], { cwd: ref });
    const expected = reference.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as AlertJson).id);
    expect(expected.length).toBeGreaterThan(10);

    const listed = await runCli(['alerts', '--json'], { cwd: live });
    const ids = (JSON.parse(listed.stdout) as AlertJson[]).map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length); // nothing repeated
    expect(ids).toEqual(expected); // nothing missed, same order
  });
});
