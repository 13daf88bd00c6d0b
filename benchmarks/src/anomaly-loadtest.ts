/**
 * `pnpm --silent loadtest --scenario anomalies|normal`: the labelled workload
 * (anomaly-scenario.ts) through the real registration and store, then the watcher over that
 * store (fresh state, its own alert store beside it), scored against the planted run ids. One
 * JSON line on stdout; progress on stderr.
 *
 *   pnpm --silent loadtest --scenario anomalies [--runs 2000] [--concurrency 8] [--store DIR]
 *   pnpm --silent loadtest --scenario normal    (normal traffic only: every alert is false)
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { registerAgentAudit } from '@agent-audit/sdk';
import { Watcher, watchConfigFrom } from '@agent-audit/watch';
import { stringify as stringifyYaml } from 'yaml';
import { runAnomalyScenario, scoreAlerts } from './anomaly-scenario.js';

export interface ScenarioStores {
  store: string;
  trust: string;
  alerts: string;
  alertsTrust: string;
  state: string;
}

/** Store, trust, alert store and watch state directories side by side under `base`. */
export function scenarioStores(base: string): ScenarioStores {
  return {
    store: join(base, 'store'),
    trust: join(base, 'trust'),
    alerts: join(base, 'alerts'),
    alertsTrust: join(base, 'alerts-trust'),
    state: join(base, 'watch-state'),
  };
}

/**
 * The watcher over a scenario's store: the documented defaults but a 1 s call-frequency window
 * (the scenario lasts seconds, the default 10 s window needs three windows of history before it
 * judges), and no sinks (the alerts stay in its store).
 */
export function scenarioConfig(dirs: ScenarioStores, pollMs = 200) {
  return {
    stores: [{ dir: dirs.store, trust_dir: dirs.trust }],
    alerts: { dir: dirs.alerts, trust_dir: dirs.alertsTrust },
    state_dir: dirs.state,
    poll_ms: pollMs,
    patterns: { call_frequency: { window_s: 1 } },
    sinks: [] as unknown[],
  };
}

export function scenarioWatcher(dirs: ScenarioStores, pollMs = 200): Watcher {
  const config = watchConfigFrom(scenarioConfig(dirs, pollMs), undefined);
  return new Watcher(config, { writeErr: (t) => process.stderr.write(t) });
}

export async function runScenarioLoadtest(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string' },
      runs: { type: 'string' },
      concurrency: { type: 'string' },
      store: { type: 'string' },
    },
    strict: true,
  });
  const scenario = values.scenario;
  if (scenario !== 'anomalies' && scenario !== 'normal') {
    process.stderr.write(
      `loadtest: --scenario is invalid, expected anomalies or normal (actual: ${JSON.stringify(scenario)})\n`,
    );
    return 2;
  }
  const runs = Number(values.runs ?? 2000);
  const concurrency = Number(values.concurrency ?? 8);
  if (
    !Number.isSafeInteger(runs) ||
    runs < 100 ||
    !Number.isSafeInteger(concurrency) ||
    concurrency < 1
  ) {
    process.stderr.write('loadtest: --runs must be an integer ≥ 100 and --concurrency ≥ 1\n');
    return 2;
  }
  const base = resolve(values.store ?? mkdtempSync(join(tmpdir(), `agent-audit-${scenario}-`)));
  const dirs = scenarioStores(base);
  const audit = registerAgentAudit({
    serviceName: 'agent-audit-anomalies',
    storeDir: dirs.store,
    trustDir: dirs.trust,
    forward: false,
    installExitHandlers: false,
  });
  process.stderr.write(
    `loadtest: ${scenario}: ${runs} normal runs, concurrency ${concurrency}, store ${dirs.store}\n`,
  );
  const result = await runAnomalyScenario({
    normalRuns: runs,
    planted: scenario === 'anomalies',
    concurrency,
  });
  await audit.forceFlush();
  await audit.shutdown();
  process.stderr.write(
    `loadtest: traffic done in ${result.elapsedS.toFixed(1)} s; watching ${dirs.store}\n`,
  );
  // The same configuration as a file, for the commands printed below.
  const configFile = join(base, 'agent-audit-watch.yaml');
  writeFileSync(
    configFile,
    stringifyYaml({ ...scenarioConfig(dirs), sinks: [{ type: 'stdout' }] }),
  );
  const watcher = scenarioWatcher(dirs);
  const started = performance.now();
  const watched = await watcher.runOnce();
  const watchS = (performance.now() - started) / 1000;
  await watcher.close();
  const score = scoreAlerts(watched.alerts, result.planted);
  const summary = {
    scenario,
    runs: result.runs,
    tool_calls: result.toolCalls,
    records: watched.records,
    traffic_s: Math.round(result.elapsedS * 1000) / 1000,
    watch_s: Math.round(watchS * 1000) / 1000,
    alerts: watched.alerts.length,
    alerts_by_pattern: score.byPattern,
    planted: result.planted,
    recall: score.recall,
    missed: score.missed,
    false_alerts: score.falseAlerts,
    store: dirs.store,
    alerts_store: dirs.alerts,
    commands: {
      alerts: `pnpm --silent agent-audit alerts --store ${dirs.alerts}`,
      verify_alerts: `AGENT_AUDIT_TRUST_DIR=${dirs.alertsTrust} pnpm --silent agent-audit verify --store ${dirs.alerts}`,
      detect: `pnpm --silent agent-audit detect --since 1d --config ${configFile}`,
      watch: `pnpm --silent agent-audit watch --config ${configFile}`,
    },
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return scenario === 'anomalies' ? (score.recall === 1 ? 0 : 1) : score.falseAlerts === 0 ? 0 : 1;
}
