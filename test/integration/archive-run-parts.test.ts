import { join } from 'node:path';
import { archiveRuns, compactIndexDay, parseArchiveUrl, pushStore } from '@agent-audit/archive';
import { AuditStore, type RecordTags } from '@agent-audit/store';
import { openStoreReader } from '@agent-audit/store/query';
import { describe, expect, it } from 'vitest';
import { useLockedBucket, type VersitygwInstance } from '../support/versitygw.js';

// `runs --archive` must answer what `runs` over the stores answers, also for a run whose records
// fall into several segments, several pushes and several hosts: a workflow span that starts in
// one push and ends in the next is one span, ended; a run is incomplete only if some span never
// ends anywhere. The archive's index stores each run's part per push (RunPart) and merges them.

const BUCKET = 'parts-audit';
let s3: VersitygwInstance;
let root: string;

useLockedBucket(BUCKET, 'agent-audit-archive-parts-', (server, dir) => {
  s3 = server;
  root = dir;
});

function open(name: string) {
  return AuditStore.open({
    dir: join(root, name, 'store'),
    trustDir: join(root, name, 'trust'),
    // Small segments: every few records the writer seals one and opens the next.
    segmentMaxBytes: 2048,
  });
}

const span = (
  store: AuditStore,
  type: 'span.start' | 'span.end',
  run: string,
  id: string,
  extra: Partial<RecordTags> = {},
) =>
  store.append({
    type,
    tags: { run, span: id, principal: 'user:parts', agent: 'agent-a', trace: run, ...extra },
    payload: { filler: 'f'.repeat(300) },
  });

/**
 * Records of another principal's run, enough to seal the segment the runs' last records are
 * in (the newest segment is not pushed until sealed: its run is not in the query).
 */
async function seal(store: AuditStore, n: number): Promise<void> {
  const other = { principal: 'user:filler' };
  for (let i = 0; i < 8; i++) {
    await span(store, 'span.start', `filler-${n}`, `f${n}-${i}`, other);
    await span(store, 'span.end', `filler-${n}`, `f${n}-${i}`, { ...other, status: 'ok' });
  }
}

describe('runs --archive over runs that cross segments, pushes and hosts (real versitygw)', () => {
  it('gives the status, span count and completeness the stores give', async () => {
    const client = s3.client();
    const location = parseArchiveUrl(`s3://${BUCKET}/fleet`);
    const push = (name: string) =>
      pushStore({
        client,
        location,
        store: join(root, name, 'store'),
        trustDir: join(root, name, 'trust'),
        retainDays: 1,
      });
    const alpha = open('alpha');
    const bravo = open('bravo');
    // crossing: its workflow span starts before push 1 and ends after it; a tool span starts
    // on alpha and ends in alpha's next push; a sub-agent on bravo, whose span ends too.
    await span(alpha, 'span.start', 'crossing', 'wf');
    await span(alpha, 'span.start', 'crossing', 'tool-1', { parent: 'wf', tool: 'lookup' });
    // open-run: its workflow span never ends (a crash): incomplete in the stores and the archive.
    await span(alpha, 'span.start', 'open-run', 'wf-open');
    // failed: its workflow span ends in error in the second push.
    await span(alpha, 'span.start', 'failed', 'wf-failed');
    await seal(alpha, 1);
    await push('alpha');
    await span(alpha, 'span.end', 'crossing', 'tool-1', {
      parent: 'wf',
      tool: 'lookup',
      status: 'ok',
    });
    await span(bravo, 'span.start', 'crossing', 'sub', { parent: 'tool-1' });
    await span(bravo, 'span.end', 'crossing', 'sub', { parent: 'tool-1', status: 'error' });
    await span(alpha, 'span.end', 'crossing', 'wf', { status: 'ok' });
    await span(alpha, 'span.end', 'failed', 'wf-failed', { status: 'error' });
    await seal(alpha, 2);
    await seal(bravo, 3);
    await push('alpha');
    await push('bravo');
    await alpha.close();
    await bravo.close();

    const local = (name: string) => openStoreReader(join(root, name, 'store'));
    const since = new Date(Date.now() - 86_400_000);
    const filter = { principal: 'user:parts', since };
    // What `runs` gives over both stores (mergeRunSummaries adds a run's parts across stores).
    const { mergeRunSummaries } = await import('../../packages/cli/src/commands/runs.js');
    const readers = [local('alpha'), local('bravo')];
    const expected = mergeRunSummaries(readers.flatMap((r) => r.listRuns(filter)));
    for (const r of readers) r.close();
    const byId = Object.fromEntries(expected.map((r) => [r.run_id, r]));
    expect(byId.crossing).toMatchObject({ status: 'ok', incomplete: false, spans: 3 });
    expect(byId['open-run']).toMatchObject({ status: 'incomplete', incomplete: true });
    expect(byId.failed).toMatchObject({ status: 'error', incomplete: false, spans: 1 });

    const strip = (runs: Array<Record<string, unknown>>) =>
      runs
        .map(({ stores: _s, ...r }) => r)
        .sort((a, b) => String(a.run_id).localeCompare(String(b.run_id)));
    const sorted = [...expected].sort((a, b) => a.run_id.localeCompare(b.run_id));
    const archived = await archiveRuns({ client, location, filter });
    expect(strip(archived.runs as never)).toEqual(sorted);
    // The crossing run's parts were in several segments of two pushes on alpha, and on bravo.
    const crossing = archived.runs.find((r) => r.run_id === 'crossing')!;
    expect(crossing.stores).toHaveLength(2);
    expect(crossing.stores.some((s: { segments: number[] }) => s.segments.length > 1)).toBe(true);

    // The same answer from the day's rollup.
    const today = new Date().toISOString().slice(0, 10);
    await compactIndexDay({ client, location, day: today, retainDays: 1 });
    const rolled = await archiveRuns({ client, location, filter });
    expect(strip(rolled.runs as never)).toEqual(sorted);
  }, 120_000);
});
