import { describe, expect, it } from 'vitest';
import { pick, prng, shuffle } from '../../../test/support/prng.js';
import {
  mergeRunParts,
  mergeRunStatus,
  type RunPart,
  runStatus,
  runSummaryOf,
  summariseRunParts,
  summariseRuns,
  type TagRow,
} from '../src/run-summary.js';

// The one rule `runs`, `explain` and the console share: a run's status is its workflow span's.

function end(seq: number, span: string, status: string, parent?: string): TagRow {
  return {
    seq,
    time: `2026-12-05T00:00:0${seq}Z`,
    type: 'span.end',
    tags: { run: 'r', span, status, ...(parent ? { parent } : {}) },
  };
}

describe('runStatus', () => {
  it('is the workflow span status; a refused or failed tool call inside does not change it', () => {
    expect(runStatus({ incomplete: false, workflowStatus: 'ok', anyEnded: true })).toBe('ok');
    expect(runStatus({ incomplete: false, workflowStatus: 'unset', anyEnded: true })).toBe('ok');
    expect(runStatus({ incomplete: false, workflowStatus: 'error', anyEnded: true })).toBe('error');
    expect(runStatus({ incomplete: true, workflowStatus: 'error', anyEnded: true })).toBe(
      'incomplete',
    );
    expect(runStatus({ incomplete: false, workflowStatus: undefined, anyEnded: true })).toBe('ok');
    expect(runStatus({ incomplete: false, workflowStatus: undefined, anyEnded: false })).toBe(
      'unknown',
    );
  });

  it('summariseRuns applies it: tool errors stay on the tool, the workflow decides', () => {
    const toolRefused = summariseRuns([end(1, 'tool', 'error', 'wf'), end(2, 'wf', 'ok')], {});
    expect(toolRefused[0]!.status).toBe('ok');
    const workflowFailed = summariseRuns([end(1, 'tool', 'ok', 'wf'), end(2, 'wf', 'error')], {});
    expect(workflowFailed[0]!.status).toBe('error');
    // A sub-agent's store holds no workflow span: its failed call does not make the run an error.
    const subAgentPart = summariseRuns([end(1, 'sub', 'error', 'remote-parent')], {});
    expect(subAgentPart[0]!.status).toBe('ok');
  });

  it('merges the parts of a run from several stores by the most telling status', () => {
    expect(mergeRunStatus('ok', 'error')).toBe('error');
    expect(mergeRunStatus('error', 'ok')).toBe('error');
    expect(mergeRunStatus('error', 'incomplete')).toBe('incomplete');
    expect(mergeRunStatus('unknown', 'ok')).toBe('ok');
  });
});

describe('run parts (the archive index merges a run seen in several segments, pushes, stores)', () => {
  const strip = runSummaryOf;

  /** Random runs: workflow spans, tool spans, some never ended, a loss; times follow seq. */
  function randomRows(rnd: () => number): TagRow[] {
    const rows: TagRow[] = [];
    let seq = 0;
    const time = () => new Date(Date.UTC(2026, 11, 5) + seq * 1000).toISOString();
    const live: Array<{ run: string; span: string; parent?: string }> = [];
    for (let i = 0; i < 60; i++) {
      const run = `r${Math.floor(rnd() * 4)}`;
      const roll = rnd();
      if (roll < 0.4 || live.length === 0) {
        const root = !live.some((s) => s.run === run) || rnd() < 0.2;
        const span = { run, span: `s${i}`, ...(root ? {} : { parent: `p-${run}` }) };
        live.push(span);
        seq++;
        rows.push({
          seq,
          time: time(),
          type: 'span.start',
          tags: {
            run,
            span: span.span,
            principal: `user:${run}`,
            ...(span.parent ? { parent: span.parent } : {}),
          },
        });
      } else if (roll < 0.85) {
        const s = live.splice(Math.floor(rnd() * live.length), 1)[0]!;
        seq++;
        rows.push({
          seq,
          time: time(),
          type: 'span.end',
          tags: {
            run: s.run,
            span: s.span,
            status: pick(rnd, ['ok', 'unset', 'error']),
            ...(s.parent ? { parent: s.parent } : {}),
          },
        });
      } else if (roll < 0.95) {
        seq++;
        rows.push({ seq, time: time(), type: 'event', tags: { run, span: `s${i}` } });
      } else {
        seq++;
        rows.push({ seq, time: time(), type: 'loss', tags: { run }, lost: 2 });
      }
    }
    return rows;
  }

  it('merged in any order, the parts of any split give what summariseRuns gives over all rows', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = prng(seed);
      const rows = randomRows(rnd);
      // Cut into 1–5 contiguous parts (segments), then merge them in a shuffled order.
      const cuts = [
        ...new Set(
          Array.from({ length: Math.floor(rnd() * 5) }, () => Math.floor(rnd() * rows.length)),
        ),
      ].sort((a, b) => a - b);
      const parts: TagRow[][] = [];
      let from = 0;
      for (const c of [...cuts, rows.length]) {
        parts.push(rows.slice(from, c));
        from = c;
      }
      const merged = new Map<string, RunPart>();
      for (const part of shuffle(rnd, parts)) {
        for (const p of summariseRunParts(part)) {
          const seen = merged.get(p.run_id);
          merged.set(p.run_id, seen ? mergeRunParts(seen, p) : p);
        }
      }
      const expected = summariseRuns(rows, {});
      const got = expected.map((e) => merged.get(e.run_id));
      expect(
        got.map((g) => g && strip(g)),
        `seed ${seed}`,
      ).toEqual(expected);
      expect(merged.size, `seed ${seed}`).toBe(expected.length);
    }
  });

  it('a workflow span started in one segment and ended in the next is one span, not open', () => {
    const start: TagRow = {
      seq: 1,
      time: '2026-12-05T00:00:01Z',
      type: 'span.start',
      tags: { run: 'r', span: 'wf' },
    };
    const stop = end(2, 'wf', 'ok');
    const [a] = summariseRunParts([start]);
    const [b] = summariseRunParts([stop]);
    expect(a).toMatchObject({ status: 'incomplete', open: ['wf'], spans: 1 });
    expect(b).toMatchObject({ status: 'ok', closes: ['wf'], spans: 1 });
    for (const m of [mergeRunParts(a!, b!), mergeRunParts(b!, a!)]) {
      expect(strip(m)).toEqual(summariseRuns([start, stop], {})[0]);
      expect(m).toMatchObject({ status: 'ok', incomplete: false, spans: 1 });
      expect(m.open).toBeUndefined();
    }
  });
});
