import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_INPUT_SOURCE_HASHES,
  ATTR_INPUT_SOURCE_REFS,
  ATTR_INPUT_SOURCE_TYPES,
} from './attributes.js';
import { getAuditHooks } from './audit-hooks.js';
import { hashValue } from './hash-value.js';
import { checkString, configurationError } from './internal/configuration.js';
import { safeHashKey } from './internal/run-attributes.js';
import { getRunContext } from './run-context.js';
import { RUN_EVENT_INPUT_RESOLVED, recordRunEvent } from './run-events.js';

/** One thing the run read before acting: a source record, a retrieved document, a message. */
export interface ResolvedSource {
  /** Where it lives: an id or URI, safe to record (e.g. `crm:ticket/4711`, `kb://refunds#3`). */
  ref: string;
  /** What it is, e.g. `record`, `document`, `message`. */
  type?: string;
  /** Its content, in process only: hashed (keyed when a hash key is set), never recorded. */
  content?: unknown;
  /** Its hash when the caller already has one (e.g. from the source system). */
  hash?: string;
}

export interface RecordInputResolvedOptions {
  /** The sources, in the order the run resolved them. At least one. */
  sources: readonly ResolvedSource[];
}

/**
 * Records `input.resolved` on the active span: what the run resolved before acting, by reference
 * and hash, never by content. Returns the hash of each source (`undefined` where neither content
 * nor hash was given, or the content could not be hashed). Bad options throw
 * `Configuration: …`; recording never throws.
 */
export function recordInputResolved(
  options: RecordInputResolvedOptions,
): Array<string | undefined> {
  const sources = options?.sources;
  if (!Array.isArray(sources) || sources.length === 0) {
    throw configurationError(
      'sources',
      'a non-empty array of { ref, type?, content?, hash? }',
      Array.isArray(sources) ? 'an empty array' : typeof sources,
    );
  }
  sources.forEach((s, i) => {
    checkString(`sources[${i}].ref`, s?.ref, true);
    checkString(`sources[${i}].type`, s.type, false);
    checkString(`sources[${i}].hash`, s.hash, false);
  });
  const key = safeHashKey(getAuditHooks(), getRunContext());
  const hashes = sources.map((s) => {
    if (s.hash !== undefined) return s.hash;
    if (s.content === undefined) return undefined;
    const h = hashValue(s.content, { key });
    return h.ok ? h.hash : undefined;
  });
  const attributes: Attributes = {
    [ATTR_INPUT_SOURCE_REFS]: sources.map((s) => s.ref),
    [ATTR_INPUT_SOURCE_HASHES]: hashes.map((h) => h ?? ''),
    [ATTR_INPUT_SOURCE_TYPES]: sources.map((s) => s.type ?? ''),
  };
  recordRunEvent(RUN_EVENT_INPUT_RESOLVED, {
    actorType: 'agent',
    targetType: 'input',
    attributes,
  });
  return hashes;
}
