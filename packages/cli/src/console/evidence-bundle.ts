import type { RunExplanation } from '../run-explanation.js';
import type { TrailSpan } from '../trail-span.js';
import type { RunIntegrity, StoreIntegrity } from './console-data.js';

/** Bumped when a field is renamed or removed (fields are only ever added otherwise). */
export const EVIDENCE_BUNDLE_VERSION = 1;

/**
 * A run's JSON evidence bundle: the six answers (`explain --json`), every span as `trail --json`
 * prints it (with the store and seq of its record, so each can be checked with `agent-audit
 * verify`), the integrity of each store part, and how to check it again. Nothing here is a new
 * claim: it is what the store's records and its verify result say, gathered in one file.
 */
export function evidenceBundle(
  runId: string,
  spans: TrailSpan[],
  explanation: RunExplanation,
  integrity: RunIntegrity[],
  stores: StoreIntegrity[],
  generatedAt: Date,
): Record<string, unknown> {
  const used = new Set(integrity.map((i) => i.store));
  return {
    kind: 'agent-audit.evidence-bundle',
    version: EVIDENCE_BUNDLE_VERSION,
    run_id: runId,
    generated_at: generatedAt.toISOString(),
    integrity,
    stores: stores.filter((s) => used.has(s.store)),
    explanation,
    spans,
    check: `agent-audit verify ${[...used].map((s) => `--store ${s}`).join(' ')}`,
  };
}
