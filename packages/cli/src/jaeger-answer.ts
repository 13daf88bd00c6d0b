/**
 * The shapes of Jaeger's HTTP query API answers (`/api/services`, `/api/traces`), checked
 * before use: a proxy, another service on the port or a broken Jaeger can answer anything,
 * and a wrong shape must become a message naming what was wrong, not a TypeError.
 */

export interface JaegerKeyValue {
  key: string;
  type?: string;
  value: unknown;
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: Array<{ refType: string; traceID: string; spanID: string }>;
  startTime: number;
  duration: number;
  tags?: JaegerKeyValue[];
  logs?: Array<{ timestamp: number; fields?: JaegerKeyValue[] }>;
  processID: string;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags?: JaegerKeyValue[] }>;
}

/** The answer is JSON but not of the expected shape; `message` says where and what. */
export class JaegerShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JaegerShapeError';
  }
}

const HEX = /^[0-9a-fA-F]{1,32}$/;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function fail(path: string, expected: string, value: unknown): never {
  throw new JaegerShapeError(`${path} is ${describe(value)}, expected ${expected}`);
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(path, 'an object', value);
  }
  return value as Record<string, unknown>;
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) fail(path, 'an array', value);
  return value;
}

function optionalArray(value: unknown, path: string): unknown[] {
  return value === undefined || value === null ? [] : array(value, path);
}

function string(value: unknown, path: string): string {
  if (typeof value !== 'string') fail(path, 'a string', value);
  return value;
}

function hexId(value: unknown, path: string, digits: number): string {
  if (typeof value !== 'string' || !HEX.test(value) || value.length > digits) {
    fail(path, `a hex id of at most ${digits} digits`, value);
  }
  return value;
}

function micros(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 2 ** 53) {
    fail(path, 'a non-negative number of microseconds', value);
  }
  return value;
}

function keyValues(value: unknown, path: string): JaegerKeyValue[] {
  return optionalArray(value, path).map((item, i) => {
    const kv = object(item, `${path}[${i}]`);
    return { key: string(kv.key, `${path}[${i}].key`), value: kv.value };
  });
}

/** The `data` array of an answer, or the error Jaeger reported in `errors`. */
function dataOf(body: unknown): unknown[] {
  const root = object(body, 'the answer');
  const errors = optionalArray(root.errors, 'errors');
  if (errors.length > 0) {
    const first = object(errors[0], 'errors[0]');
    throw new JaegerShapeError(
      `Jaeger reported an error: ${typeof first.msg === 'string' ? first.msg : JSON.stringify(first)}`,
    );
  }
  return optionalArray(root.data, 'data');
}

/** `/api/services`: `{ data: string[] }`. */
export function servicesOf(body: unknown): string[] {
  return dataOf(body).map((item, i) => string(item, `data[${i}]`));
}

/** `/api/traces`: `{ data: JaegerTrace[] }`, every field the trail reads checked. */
export function tracesOf(body: unknown): JaegerTrace[] {
  return dataOf(body).map((item, t) => {
    const at = `data[${t}]`;
    const trace = object(item, at);
    const processes: JaegerTrace['processes'] = {};
    for (const [id, value] of Object.entries(object(trace.processes ?? {}, `${at}.processes`))) {
      const process = object(value, `${at}.processes.${id}`);
      processes[id] = {
        serviceName: string(process.serviceName, `${at}.processes.${id}.serviceName`),
        tags: keyValues(process.tags, `${at}.processes.${id}.tags`),
      };
    }
    const spans = array(trace.spans, `${at}.spans`).map((value, s): JaegerSpan => {
      const sp = `${at}.spans[${s}]`;
      const span = object(value, sp);
      return {
        traceID: hexId(span.traceID, `${sp}.traceID`, 32),
        spanID: hexId(span.spanID, `${sp}.spanID`, 16),
        operationName: string(span.operationName, `${sp}.operationName`),
        references: optionalArray(span.references, `${sp}.references`).map((r, i) => {
          const ref = object(r, `${sp}.references[${i}]`);
          return {
            refType: string(ref.refType, `${sp}.references[${i}].refType`),
            traceID: hexId(ref.traceID, `${sp}.references[${i}].traceID`, 32),
            spanID: hexId(ref.spanID, `${sp}.references[${i}].spanID`, 16),
          };
        }),
        startTime: micros(span.startTime, `${sp}.startTime`),
        duration: micros(span.duration, `${sp}.duration`),
        tags: keyValues(span.tags, `${sp}.tags`),
        logs: optionalArray(span.logs, `${sp}.logs`).map((l, i) => {
          const log = object(l, `${sp}.logs[${i}]`);
          return {
            timestamp: micros(log.timestamp, `${sp}.logs[${i}].timestamp`),
            fields: keyValues(log.fields, `${sp}.logs[${i}].fields`),
          };
        }),
        processID: string(span.processID, `${sp}.processID`),
      };
    });
    return { traceID: string(trace.traceID, `${at}.traceID`), spans, processes };
  });
}
