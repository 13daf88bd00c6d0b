import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export type PatternName =
  | 'call_frequency'
  | 'new_input_shape'
  | 'permission_denials'
  | 'output_size'
  | 'execution_time'
  | 'policy';

export const PATTERNS: readonly PatternName[] = [
  'call_frequency',
  'new_input_shape',
  'permission_denials',
  'output_size',
  'execution_time',
  'policy',
];

export interface StoreSource {
  dir: string;
  /** The writer's trust directory (anchor, witness): the durable head comes from its witness. */
  trustDir: string | undefined;
}

export interface RateConfig {
  enabled: boolean;
  severity: Severity;
  windowS: number;
  factor: number;
  minCount: number;
  minWindows: number;
}

export interface QuantileConfig {
  enabled: boolean;
  severity: Severity;
  quantile: number;
  factor: number;
  minValue: number;
}

export interface SinkConfig {
  type: 'stdout' | 'webhook' | 'slack' | 'otlp';
  name: string;
  url: string | undefined;
  /** Name of the environment variable holding the HMAC secret (never the secret itself). */
  secretEnv: string | undefined;
  timeoutMs: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export interface WatchConfig {
  file: string | undefined;
  stores: StoreSource[];
  alertsDir: string;
  alertsTrustDir: string;
  stateDir: string;
  pollMs: number;
  learningMinCalls: number;
  patterns: {
    call_frequency: RateConfig;
    new_input_shape: { enabled: boolean; severity: Severity; signals: boolean };
    permission_denials: RateConfig & { newType: boolean };
    output_size: QuantileConfig;
    execution_time: QuantileConfig;
    policy: { enabled: boolean; severity: Severity; outcomes: string[] };
  };
  sinks: SinkConfig[];
}

/** A configuration problem; the message names the file and the fix. */
export class WatchConfigError extends Error {
  override name = 'WatchConfigError';
}

type Obj = Record<string, unknown>;

class Reader {
  constructor(readonly file: string) {}

  fail(path: string, expected: string, actual: unknown): never {
    throw new WatchConfigError(
      `Configuration: ${path} is invalid, expected ${expected} (actual: ${JSON.stringify(actual) ?? String(actual)}); fix it in ${this.file} (reference: packages/watch/README.md)`,
    );
  }

  obj(value: unknown, path: string, known: string[]): Obj {
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(path, 'a mapping', value);
    for (const key of Object.keys(value as Obj)) {
      if (!known.includes(key)) {
        this.fail(`${path ? `${path}.` : ''}${key}`, `one of the keys ${known.join(', ')}`, key);
      }
    }
    return value as Obj;
  }

  num(o: Obj, key: string, path: string, fallback: number, min: number, max = Infinity): number {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      this.fail(`${path}.${key}`, `a number from ${min}${max === Infinity ? '' : ` to ${max}`}`, v);
    }
    return v;
  }

  bool(o: Obj, key: string, path: string, fallback: boolean): boolean {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') this.fail(`${path}.${key}`, 'true or false', v);
    return v;
  }

  str(o: Obj, key: string, path: string): string | undefined {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0)
      this.fail(`${path}.${key}`, 'a non-empty string', v);
    return v;
  }

  severity(o: Obj, path: string, fallback: Severity): Severity {
    const v = o.severity;
    if (v === undefined) return fallback;
    if (v !== 'low' && v !== 'medium' && v !== 'high' && v !== 'critical') {
      this.fail(`${path}.severity`, 'low, medium, high or critical', v);
    }
    return v;
  }
}

const RATE_KEYS = ['enabled', 'severity', 'window_s', 'factor', 'min_count', 'min_windows'];
const QUANTILE_KEYS = ['enabled', 'severity', 'quantile', 'factor', 'min_value'];

function rate(
  r: Reader,
  raw: unknown,
  path: string,
  d: Omit<RateConfig, 'enabled'>,
  extra: string[] = [],
): RateConfig {
  const o = r.obj(raw, path, [...RATE_KEYS, ...extra]);
  return {
    enabled: r.bool(o, 'enabled', path, true),
    severity: r.severity(o, path, d.severity),
    windowS: r.num(o, 'window_s', path, d.windowS, 1, 86_400),
    factor: r.num(o, 'factor', path, d.factor, 1),
    minCount: r.num(o, 'min_count', path, d.minCount, 1),
    minWindows: r.num(o, 'min_windows', path, d.minWindows, 1),
  };
}

function quantile(
  r: Reader,
  raw: unknown,
  path: string,
  d: Omit<QuantileConfig, 'enabled'>,
): QuantileConfig {
  const o = r.obj(raw, path, QUANTILE_KEYS);
  return {
    enabled: r.bool(o, 'enabled', path, true),
    severity: r.severity(o, path, d.severity),
    quantile: r.num(o, 'quantile', path, d.quantile, 0.5, 1),
    factor: r.num(o, 'factor', path, d.factor, 1),
    minValue: r.num(o, 'min_value', path, d.minValue, 0),
  };
}

/**
 * The configuration from parsed YAML. Relative paths resolve against the file's directory
 * (or `baseDir` for a configuration given inline).
 */
export function watchConfigFrom(
  raw: unknown,
  file: string | undefined,
  baseDir = process.cwd(),
): WatchConfig {
  const r: Reader = new Reader(file ?? '(inline configuration)');
  const base = file ? dirname(resolve(file)) : baseDir;
  const top = r.obj(raw, '', [
    'stores',
    'alerts',
    'state_dir',
    'poll_ms',
    'learning',
    'patterns',
    'sinks',
  ]);
  const storesRaw = top.stores;
  if (!Array.isArray(storesRaw) || storesRaw.length === 0) {
    r.fail('stores', 'a list of at least one store ({dir, trust_dir})', storesRaw);
  }
  const stores = storesRaw.map((s, i) => {
    const o = r.obj(typeof s === 'string' ? { dir: s } : s, `stores[${i}]`, ['dir', 'trust_dir']);
    const dir =
      r.str(o, 'dir', `stores[${i}]`) ?? r.fail(`stores[${i}].dir`, 'a store directory', o.dir);
    const trust = r.str(o, 'trust_dir', `stores[${i}]`);
    return { dir: resolve(base, dir), trustDir: trust ? resolve(base, trust) : undefined };
  });
  const alerts = r.obj(top.alerts, 'alerts', ['dir', 'trust_dir']);
  const alertsDir = resolve(base, r.str(alerts, 'dir', 'alerts') ?? '.agent-audit-watch');
  const alertsTrustDir = resolve(
    base,
    r.str(alerts, 'trust_dir', 'alerts') ?? '.agent-audit-watch-trust',
  );
  const stateDir = resolve(base, r.str(top, 'state_dir', '') ?? '.agent-audit-watch-state');
  const learning = r.obj(top.learning, 'learning', ['min_calls']);
  const p = r.obj(top.patterns, 'patterns', [...PATTERNS]);
  const shapeO = r.obj(p.new_input_shape, 'patterns.new_input_shape', [
    'enabled',
    'severity',
    'signals',
  ]);
  const denialO = r.obj(p.permission_denials, 'patterns.permission_denials', [
    ...RATE_KEYS,
    'new_type',
  ]);
  const policyO = r.obj(p.policy, 'patterns.policy', ['enabled', 'severity', 'outcomes']);
  const outcomes = policyO.outcomes ?? ['stop', 'approval_required'];
  if (!Array.isArray(outcomes) || !outcomes.every((o) => typeof o === 'string' && o.length > 0)) {
    r.fail(
      'patterns.policy.outcomes',
      'a list of decision outcomes such as [stop, approval_required]',
      outcomes,
    );
  }
  const sinksRaw = top.sinks ?? [{ type: 'stdout' }];
  if (!Array.isArray(sinksRaw)) r.fail('sinks', 'a list of sinks', sinksRaw);
  const names = new Set<string>();
  const sinks = sinksRaw.map((s, i): SinkConfig => {
    const path = `sinks[${i}]`;
    const o = r.obj(s, path, [
      'type',
      'name',
      'url',
      'secret_env',
      'timeout_ms',
      'backoff_ms',
      'max_backoff_ms',
    ]);
    const type = o.type;
    if (type !== 'stdout' && type !== 'webhook' && type !== 'slack' && type !== 'otlp') {
      r.fail(`${path}.type`, 'stdout, webhook, slack or otlp', type);
    }
    const url = r.str(o, 'url', path);
    if (type !== 'stdout') {
      let parsed: URL | undefined;
      try {
        parsed = new URL(url ?? '');
      } catch {
        parsed = undefined;
      }
      if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
        r.fail(
          `${path}.url`,
          'an http(s) URL (not shown: a webhook URL may hold its token)',
          url === undefined ? url : `${url.length} characters`,
        );
      }
    }
    const name = r.str(o, 'name', path) ?? (type === 'stdout' ? 'stdout' : `${type}-${i}`);
    if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(name))
      r.fail(`${path}.name`, 'a name of [a-z0-9_-]', name);
    if (names.has(name)) r.fail(`${path}.name`, 'a name no other sink has', name);
    names.add(name);
    const secretEnv = r.str(o, 'secret_env', path);
    return {
      type: type as SinkConfig['type'],
      name,
      url,
      secretEnv,
      timeoutMs: r.num(o, 'timeout_ms', path, 5000, 10),
      backoffMs: r.num(o, 'backoff_ms', path, 500, 1),
      maxBackoffMs: r.num(o, 'max_backoff_ms', path, 30_000, 1),
    };
  });
  return {
    file,
    stores,
    alertsDir,
    alertsTrustDir,
    stateDir,
    pollMs: r.num(top, 'poll_ms', '', 200, 10, 60_000),
    learningMinCalls: r.num(learning, 'min_calls', 'learning', 30, 0),
    patterns: {
      call_frequency: rate(r, p.call_frequency, 'patterns.call_frequency', {
        severity: 'high',
        windowS: 10,
        factor: 5,
        minCount: 20,
        minWindows: 3,
      }),
      new_input_shape: {
        enabled: r.bool(shapeO, 'enabled', 'patterns.new_input_shape', true),
        severity: r.severity(shapeO, 'patterns.new_input_shape', 'medium'),
        signals: r.bool(shapeO, 'signals', 'patterns.new_input_shape', true),
      },
      permission_denials: {
        ...rate(
          r,
          denialO,
          'patterns.permission_denials',
          {
            severity: 'high',
            windowS: 60,
            factor: 5,
            minCount: 3,
            minWindows: 1,
          },
          ['new_type'],
        ),
        newType: r.bool(denialO, 'new_type', 'patterns.permission_denials', true),
      },
      output_size: quantile(r, p.output_size, 'patterns.output_size', {
        severity: 'medium',
        quantile: 0.99,
        factor: 4,
        minValue: 1024,
      }),
      execution_time: quantile(r, p.execution_time, 'patterns.execution_time', {
        severity: 'medium',
        quantile: 0.99,
        factor: 4,
        minValue: 250,
      }),
      policy: {
        enabled: r.bool(policyO, 'enabled', 'patterns.policy', true),
        severity: r.severity(policyO, 'patterns.policy', 'high'),
        outcomes: outcomes as string[],
      },
    },
    sinks,
  };
}

/** Reads and checks the YAML configuration file; every error names the file and the fix. */
export function loadWatchConfig(file: string): WatchConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new WatchConfigError(
      `cannot read the watch configuration ${file} (${(error as Error).message}); create it (see packages/watch/README.md) or pass --config FILE`,
    );
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new WatchConfigError(
      `the watch configuration ${file} is not valid YAML (${(error as Error).message.split('\n')[0]}); fix the line it names`,
    );
  }
  return watchConfigFrom(raw, file);
}
