import { describe, expect, it } from 'vitest';
import { renderHtmlReport } from '../src/html-report.js';
import { explainRun } from '../src/run-explanation.js';
import { runTimeline } from '../src/run-timeline.js';
import { demoRun, RUN_ID, spanEndPayload, spanStartPayload } from './support/otlp-fixtures.js';

function timeline(withIncomplete = true) {
  const { ended, neverEnded } = demoRun();
  const records = ended.map((spec, i) => ({
    seq: i + 1,
    type: 'span.end',
    payload: spanEndPayload(spec),
  }));
  if (withIncomplete)
    records.push({ seq: 99, type: 'span.start', payload: spanStartPayload(neverEnded) });
  return runTimeline(records);
}

describe('explainRun', () => {
  it('answers the six questions from the record', () => {
    const x = explainRun(RUN_ID, timeline(false));
    expect(Object.keys(x)).toEqual([
      'run_id',
      'trigger',
      'context',
      'actions',
      'checks',
      'approvals',
      'side_effects',
    ]);
    expect(x.trigger).toMatchObject({
      principal: 'user:456',
      trigger_type: 'human',
      tenant_id: 'acme',
      workflow_name: 'refund',
      root_span: 'invoke_agent Support Agent',
      credential_ref: 'cred:run-token-1',
      started_at: '2026-11-20T09:30:00.000Z',
      ended_at: '2026-11-20T09:30:00.900Z',
      status: 'ok',
      incomplete: false,
      spans: 10,
    });
    expect(x.context.agents.map((a) => a.agent_id)).toEqual(['support-agent', 'research-agent']);
    expect(x.context.agents[0]).toMatchObject({
      agent_version: '1.4.0',
      processes: ['orchestrator[4242]'],
    });
    expect(x.context.agents[1]!.processes).toEqual(['sub-agent[5151]']);
    expect(x.context.llm_calls).toEqual([
      expect.objectContaining({
        model: 'scripted-1',
        provider: 'scripted',
        input_tokens: 120,
        output_tokens: 42,
        prompt_version: '7',
        requested_tools: ['search_kb', 'db_update'],
      }),
    ]);
    expect(x.context.policy_versions).toEqual([
      'outbound-mail@4',
      'default',
      'writes@3',
      'outbound-mail',
    ]);
    expect(x.actions.map((a) => [a.tool, a.credential_ref])).toEqual([
      ['search_kb', 'cred:run-token-1'],
      ['db_update', 'cred:db-writer'],
      ['send_email', 'cred:run-token-1'],
      ['send_email', 'cred:run-token-1'],
      ['delete_account', 'cred:run-token-1'],
      ['fetch_doc', 'cred:run-token-1'],
    ]);
    // The refused first attempt and the approved retry are both actions; the approval span is not.
    expect(x.actions.filter((a) => a.tool === 'send_email').map((a) => a.status)).toEqual([
      'error',
      'unset',
    ]);
    expect(x.checks.map((c) => [c.tool, c.outcome, c.source])).toEqual([
      [null, 'policy_changed', 'event:policy.changed'],
      ['search_kb', 'allow', 'span'],
      ['db_update', 'allow', 'span'],
      ['db_update', 'passed', 'event:validation.passed'],
      ['send_email', 'approval_required', 'event:policy.decision'],
      ['send_email', 'allow', 'event:policy.decision'],
      ['delete_account', 'stop', 'span'],
    ]);
    // The decision on the span and in its event are one check, with the details of both.
    expect(x.checks[5]).toMatchObject({
      actor: 'human:alice',
      stage: 'pre',
      action_key: 'ak-mail',
      authorization_method: 'human_approval',
    });
    expect(x.checks[0]).toMatchObject({
      actor: 'human:ops:bob',
      policy: 'outbound-mail',
      policy_version: '4',
      reason: 'mail to customers needs a human',
    });
    expect(x.checks[3]!.actor).toBe('system:schema-check');
    expect(x.approvals).toEqual([
      expect.objectContaining({
        tool: 'send_email',
        decision: 'requested',
        approval_id: 'appr-1',
        actor: 'system',
      }),
      expect.objectContaining({
        tool: 'send_email',
        approval_id: 'appr-1',
        approver: 'human:alice',
        decision: 'approved',
        edits: ['subject'],
        shown_hash: `sha256:${'9'.repeat(64)}`,
        actor: 'human:alice',
      }),
      expect.objectContaining({ decision: 'applied', approver: 'human:alice', source: 'span' }),
    ]);
    expect(x.side_effects).toEqual([
      expect.objectContaining({
        tool: 'db_update',
        target_system: 'sqlite:helpdesk',
        object_id: 'ticket/991',
        status: 'applied',
        action_input_hash: `sha256:${'4'.repeat(64)}`,
      }),
    ]);
    expect(x.context.credentials).toEqual([
      {
        time: '2026-11-20T09:30:00.001Z',
        credential_ref: 'cred:run-token-1',
        scopes: ['tickets:write', 'mail:send'],
        expires_at: '2026-11-20T10:30:00.000Z',
        issuer: 'vault',
      },
    ]);
  });

  it('reports the run as failed when its run span failed, and as ok when OTel left it unset', () => {
    const { ended } = demoRun();
    const failed = ended.map((spec, i) =>
      i === 0 ? { ...spec, status: { code: 2, message: 'boom' } } : spec,
    );
    const unset = ended.map((spec, i) => (i === 0 ? { ...spec, status: { code: 0 } } : spec));
    const statusOf = (specs: typeof ended) =>
      explainRun(
        RUN_ID,
        runTimeline(
          specs.map((spec, i) => ({ seq: i + 1, type: 'span.end', payload: spanEndPayload(spec) })),
        ),
      ).trigger.status;
    expect(statusOf(failed)).toBe('error');
    expect(statusOf(unset)).toBe('ok');
  });

  it('marks a run with a never-ended span as incomplete, with no end time', () => {
    const x = explainRun(RUN_ID, timeline(true));
    expect(x.trigger).toMatchObject({ status: 'incomplete', incomplete: true, ended_at: null });
    expect(x.actions.at(-1)).toMatchObject({ tool: 'refund', incomplete: true });
  });
});

describe('renderHtmlReport', () => {
  const spans = timeline();
  const html = renderHtmlReport(explainRun(RUN_ID, spans), spans, new Date('2026-11-25T00:00:00Z'));

  it('escapes every recorded value', () => {
    expect(html).not.toContain('<script>');
    expect(html).toContain('destructive &#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).toContain('&#60;b&#62;ok&#60;/b&#62; &#38; &#34;fine&#34;');
  });

  it('is self-contained: no external URL, script, stylesheet link or image', () => {
    expect(html).not.toMatch(/<script|<link|<img|<iframe|src=|href=|url\(|@import/i);
    expect(html).toMatch(/^<!doctype html>/);
  });

  it('is well formed: every element it opens, it closes, in order', () => {
    const voids = new Set(['meta', 'br', 'hr', 'img', 'link', 'input']);
    const stack: string[] = [];
    for (const match of html.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*>/g)) {
      const [, closing, tag] = match;
      const name = tag!.toLowerCase();
      if (voids.has(name)) continue;
      if (closing) expect(stack.pop(), `</${name}> at ${match.index}`).toBe(name);
      else stack.push(name);
    }
    expect(stack).toEqual([]);
  });

  it('renders the timeline, the decisions and the approval', () => {
    for (const text of [
      'execute_tool send_email',
      'approval_required',
      'human:alice',
      'sub-agent[5151]',
      'ticket/991',
      'incomplete',
    ]) {
      expect(html).toContain(text);
    }
    // One timeline row per span.
    const timelineTable = html.slice(html.indexOf('<h2>Timeline</h2>'));
    expect(timelineTable.match(/<tr class=/g)).toHaveLength(spans.length);
  });
});
