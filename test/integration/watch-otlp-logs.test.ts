import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditStore } from '@agent-audit/store';
import { Watcher, watchConfigFrom } from '@agent-audit/watch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolCallEntry } from '../../packages/watch/test/support/tool-records.js';
import { type CollectorInstance, startCollector } from '../support/jaeger.js';

// A collector with a logs pipeline (the Jaeger v2 binary is an OpenTelemetry Collector
// distribution): OTLP in, the debug exporter writes each log record to the collector's log.
const CONFIG = `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: \${env:COLLECTOR_OTLP_GRPC_ENDPOINT}
      http:
        endpoint: \${env:COLLECTOR_OTLP_HTTP_ENDPOINT}
exporters:
  debug:
    verbosity: detailed
service:
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: \${env:COLLECTOR_METRICS_HOST}
                port: \${env:COLLECTOR_METRICS_PORT}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
    logs:
      receivers: [otlp]
      exporters: [debug]
`;

const root = mkdtempSync(join(tmpdir(), 'aa-watch-otlp-'));
let collector: CollectorInstance;

beforeAll(async () => {
  const configPath = join(root, 'collector.yaml');
  writeFileSync(configPath, CONFIG);
  collector = await startCollector({ configPath });
});

afterAll(async () => {
  await collector?.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe('OTLP logs sink', () => {
  it('delivers each alert as a log record to a real collector; a collector down loses none', async () => {
    const store = AuditStore.open({ dir: join(root, 'store'), trustDir: join(root, 'trust') });
    await store.appendBatch([
      toolCallEntry({
        runId: 'run-otlp-stop',
        atMs: Date.now(),
        decision: 'stop',
        reason: 'refund above limit',
      }),
    ]);
    await store.close();
    const watcher = new Watcher(
      watchConfigFrom(
        {
          stores: [{ dir: 'store', trust_dir: 'trust' }],
          alerts: { dir: 'alerts', trust_dir: 'alerts-trust' },
          state_dir: 'state',
          sinks: [
            {
              type: 'otlp',
              name: 'collector',
              url: `${collector.otlpHttpUrl}/v1/logs`,
              timeout_ms: 2000,
              backoff_ms: 50,
              max_backoff_ms: 200,
            },
          ],
        },
        undefined,
        root,
      ),
      { writeErr: () => {} },
    );
    try {
      await collector.stop();
      const r = await watcher.runOnce();
      expect(r.alerts).toHaveLength(1);
      expect(watcher.undelivered).toBe(true); // the collector is down: the alert waits
      await collector.restart();
      for (let i = 0; i < 100 && watcher.undelivered; i++) {
        await new Promise((res) => setTimeout(res, 100));
        await watcher.deliver();
      }
      expect(watcher.undelivered).toBe(false);
      let log = '';
      for (let i = 0; i < 50 && !log.includes(r.alerts[0]!.id); i++) {
        await new Promise((res) => setTimeout(res, 100));
        log = readFileSync(collector.logFile, 'utf8');
      }
      expect(log).toContain('support-agent decision=stop reason=refund above limit');
      expect(log).toContain(`agent_audit.alert.id: Str(${r.alerts[0]!.id})`);
      expect(log).toContain('agent_audit.alert.run_ids: Slice(["run-otlp-stop"])');
    } finally {
      await watcher.close();
    }
  });
});
