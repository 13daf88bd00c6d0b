import { createHmac } from 'node:crypto';
import { type Alert, alertLine } from './alert.js';
import type { SinkConfig } from './watch-config.js';

/** Where alerts go. `deliver` resolves once the alert is accepted, rejects otherwise. */
export interface Sink {
  readonly name: string;
  deliver(alert: Alert): Promise<void>;
}

/** Header carrying `sha256=<hex HMAC-SHA256 of the raw body>` under the sink's secret. */
export const SIGNATURE_HEADER = 'x-agent-audit-signature';
/** Header carrying the alert id: the same alert delivered twice has the same key. */
export const DEDUP_HEADER = 'x-agent-audit-dedup-key';

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** stdout: one JSON line per alert with `json`, else the one-line text form. */
export function stdoutSink(write: (line: string) => void, json: boolean): Sink {
  return {
    name: 'stdout',
    async deliver(alert) {
      write(`${json ? JSON.stringify(alert) : alertLine(alert)}\n`);
    },
  };
}

/**
 * The URL as messages show it: scheme, host and port only. A webhook URL's path and query often
 * are the credential (Slack's `/services/T…/B…/<token>`), and its user info always is.
 */
function shownUrl(url: string | undefined): string {
  try {
    const u = new URL(url ?? '');
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(invalid URL)';
  }
}

async function post(
  config: SinkConfig,
  body: string,
  headers: Record<string, string>,
): Promise<void> {
  let response: Response;
  try {
    response = await fetch(config.url!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(config.timeoutMs),
    });
  } catch (error) {
    const e = error as Error;
    const why = e.name === 'TimeoutError' ? `no answer within ${config.timeoutMs} ms` : e.message;
    throw new Error(`sink ${config.name} (${shownUrl(config.url)}): ${why}`);
  }
  // Drain the body so the connection can be reused.
  await response.arrayBuffer().catch(() => undefined);
  if (response.status < 200 || response.status >= 300) {
    throw new Error(`sink ${config.name} (${shownUrl(config.url)}): HTTP ${response.status}`);
  }
}

/**
 * A webhook: the alert as a JSON body, its id as de-duplication key (header and `dedup_key`),
 * and an HMAC-SHA256 signature of the body when `secret_env` names a set variable.
 */
export function webhookSink(config: SinkConfig, env: NodeJS.ProcessEnv = process.env): Sink {
  const secret = config.secretEnv ? env[config.secretEnv] : undefined;
  if (config.secretEnv && !secret) {
    throw new Error(
      `Configuration: sink ${config.name}: the environment variable ${config.secretEnv} (secret_env) is not set; set it to the webhook's shared secret or remove secret_env`,
    );
  }
  return {
    name: config.name,
    deliver(alert) {
      const body = JSON.stringify({ ...alert, dedup_key: alert.id });
      const headers: Record<string, string> = { [DEDUP_HEADER]: alert.id };
      if (secret) headers[SIGNATURE_HEADER] = signBody(body, secret);
      return post(config, body, headers);
    },
  };
}

/** A Slack-compatible incoming webhook: `{"text": "<one line>"}`. */
export function slackSink(config: SinkConfig): Sink {
  return {
    name: config.name,
    deliver(alert) {
      return post(config, JSON.stringify({ text: alertLine(alert) }), { [DEDUP_HEADER]: alert.id });
    },
  };
}

const SEVERITY_NUMBER = { low: 9, medium: 13, high: 17, critical: 21 } as const;
const SEVERITY_TEXT = { low: 'INFO', medium: 'WARN', high: 'ERROR', critical: 'FATAL' } as const;

function otlpValue(value: unknown): Record<string, unknown> {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return { intValue: String(value) };
  if (typeof value === 'number') return { doubleValue: value };
  if (Array.isArray(value)) return { arrayValue: { values: value.map(otlpValue) } };
  return { stringValue: value === null || value === undefined ? '' : String(value) };
}

/**
 * OTLP logs to a collector (OTLP/HTTP JSON, `POST <url>`, e.g. `http://collector:4318/v1/logs`):
 * one log record per alert, the one-line form as body, the alert's fields as `agent_audit.alert.*`
 * attributes, severity from the alert's.
 */
export function otlpLogsSink(config: SinkConfig): Sink {
  return {
    name: config.name,
    deliver(alert) {
      const attributes = Object.entries(alert)
        .filter(([key]) => key !== 'reason')
        .map(([key, value]) => ({ key: `agent_audit.alert.${key}`, value: otlpValue(value) }));
      const timeNs = `${BigInt(Date.parse(alert.detected_at)) * 1_000_000n}`;
      const body = JSON.stringify({
        resourceLogs: [
          {
            resource: {
              attributes: [{ key: 'service.name', value: { stringValue: 'agent-audit-watch' } }],
            },
            scopeLogs: [
              {
                scope: { name: '@agent-audit/watch' },
                logRecords: [
                  {
                    timeUnixNano: timeNs,
                    observedTimeUnixNano: timeNs,
                    severityNumber: SEVERITY_NUMBER[alert.severity],
                    severityText: SEVERITY_TEXT[alert.severity],
                    body: { stringValue: alertLine(alert) },
                    attributes,
                    eventName: 'agent_audit.alert',
                  },
                ],
              },
            ],
          },
        ],
      });
      return post(config, body, { [DEDUP_HEADER]: alert.id });
    },
  };
}
