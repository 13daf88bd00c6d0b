import type { Alert } from './alert.js';
import { Detector } from './detector.js';
import { StoreFollower } from './store-follower.js';
import { toolCallOf } from './tool-call.js';
import type { WatchConfig } from './watch-config.js';

/**
 * `agent-audit detect`: the watcher's detectors over the stores' history, from a fresh
 * baseline learned along the way (no state read or written, nothing appended). Alerts raised
 * by calls before `sinceMs` only shape the baseline and are not returned.
 */
export function detectHistory(
  config: WatchConfig,
  sinceMs: number,
  onNotice: (message: string) => void = () => {},
): { alerts: Alert[]; records: number; toolCalls: number } {
  const detector = new Detector(config);
  const alerts: Alert[] = [];
  let records = 0;
  let toolCalls = 0;
  const held: { code: string; message: string }[] = [];
  for (const source of config.stores) {
    const follower = new StoreFollower(source.dir, source.trustDir);
    try {
      for (;;) {
        const notices: { code: string; message: string }[] = [];
        const batch = follower.poll(5000, notices);
        for (const n of notices) onNotice(`${n.code}: ${n.message}`);
        if (!batch) break;
        if (batch.records.length === 0 && !notices.some((n) => n.code === 'RECORD_UNREADABLE'))
          break;
        for (const record of batch.records) {
          records++;
          const call = toolCallOf(record, batch.origin, source.dir);
          if (!call) continue;
          toolCalls++;
          for (const alert of detector.observe(call)) {
            if (call.timeMs >= sinceMs) alerts.push(alert);
          }
        }
      }
    } finally {
      follower.close();
    }
  }
  // The end of the history: held execution_time alerts are judged with what came after them.
  for (const alert of detector.flush(held)) {
    if (Date.parse(alert.event_time) >= sinceMs) alerts.push(alert);
  }
  for (const n of held) onNotice(`${n.code}: ${n.message}`);
  return { alerts, records, toolCalls };
}
