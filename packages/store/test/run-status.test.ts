import { describe, expect, it } from 'vitest';
import { mergeRunStatus, runStatus, summariseRuns, type TagRow } from '../src/run-summary.js';

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
