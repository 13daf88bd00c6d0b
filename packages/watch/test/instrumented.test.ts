import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerAgentAudit } from '@agent-audit/sdk';
import { verifyStore } from '@agent-audit/store';
import { afterAll, describe, expect, it } from 'vitest';
import { scenarioStores, scenarioWatcher } from '../../../benchmarks/src/anomaly-loadtest.js';
import { runAnomalyScenario, scoreAlerts } from '../../../benchmarks/src/anomaly-scenario.js';

const root = mkdtempSync(join(tmpdir(), 'aa-watch-e2e-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('end to end through the real instrumentation', () => {
  it('the labelled scenario: every planted anomaly alerted with its run id, no alert on another run, alerts verify', async () => {
    const dirs = scenarioStores(root);
    const audit = registerAgentAudit({
      serviceName: 'watch-e2e',
      storeDir: dirs.store,
      trustDir: dirs.trust,
      forward: false,
      installExitHandlers: false,
    });
    const result = await runAnomalyScenario({ normalRuns: 400, planted: true, concurrency: 8 });
    await audit.forceFlush();
    await audit.shutdown();
    const watcher = scenarioWatcher(dirs);
    const watched = await watcher.runOnce();
    await watcher.close();
    const score = scoreAlerts(watched.alerts, result.planted);
    expect(
      score.missed,
      JSON.stringify(watched.alerts.map((a) => [a.pattern, a.run_ids[0]])),
    ).toEqual([]);
    expect(score.recall).toBe(1);
    expect(score.falseAlerts).toBe(0);
    // The features came from the instrumentation: shapes, signals, sizes, denial types.
    const sqli = watched.alerts.find((a) => a.observed === 'signal:sql_injection');
    expect(sqli?.run_ids[0]).toBe(result.planted.new_input_shape[1]);
    expect(
      watched.alerts.some(
        (a) => a.pattern === 'permission_denials' && a.reason.includes('data_access'),
      ),
    ).toBe(true);
    const report = await verifyStore({ dir: dirs.alerts, trustDir: dirs.alertsTrust });
    expect(report.problems).toEqual([]);
    expect(report.status).toBe('verified');
  });
});
