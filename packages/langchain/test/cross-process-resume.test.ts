import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { hashValue } from '@agent-audit/instrumentation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalInterrupt } from '../src/index.js';

// A graph paused for approval in one process, approved in a second, resumed from its SQLite
// checkpoint in a third: the receipt crosses processes as JSON and is trusted only through its
// proof (hash key). The children run the built dist/ (`pnpm build` first).

const run = promisify(execFile);
const STEP = fileURLToPath(new URL('./fixtures/hitl-step.mjs', import.meta.url));

interface SpanOut {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
  events: string[];
}
interface StepOut {
  payload?: ApprovalInterrupt;
  receipt?: Record<string, unknown>;
  messages?: { type: string; content: unknown; status?: string }[];
  sent: unknown[];
  spans: SpanOut[];
}

let work: string;
const env = { ...process.env, HITL_HASH_SECRET: randomBytes(32).toString('hex') };

async function step(name: string, db: string, input?: unknown): Promise<StepOut> {
  const inFile = join(work, `${name}-${randomBytes(4).toString('hex')}.in.json`);
  const outFile = `${inFile}.out`;
  writeFileSync(inFile, JSON.stringify(input ?? {}));
  await run(process.execPath, [STEP, name, db, inFile, outFile], { env, cwd: work });
  return JSON.parse(readFileSync(outFile, 'utf8')) as StepOut;
}

const hashOf = (v: unknown, secret: string) => {
  const h = hashValue(v, { key: { id: 'hitl-test', secret } });
  if (!h.ok) throw new Error('unhashable');
  return h.hash;
};

describe('interrupt resumed from a checkpoint in another process', () => {
  let db: string;
  let started: StepOut;
  let approved: StepOut;
  const edited = { to: 'ceo@acme.test', body: 'final text' };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'agent-audit-lc-hitl-'));
    db = join(work, 'checkpoints.sqlite');
    started = await step('start', db);
    // A second copy of the paused checkpoint, for the forged-receipt attack.
    copyFileSync(db, join(work, 'fork.sqlite'));
    approved = await step('approve', db, {
      payload: started.payload,
      approver: 'user:jane',
      approvedInput: edited,
    });
  }, 120_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('process 1 pauses with approval_required; the tool body did not run', () => {
    expect(started.sent).toEqual([]);
    expect(started.payload?.type).toBe('agent-audit.approval_required');
    const tool = started.spans.find((s) => s.name === 'execute_tool send_email');
    expect(tool?.attributes['decision.outcome']).toBe('approval_required');
    expect(tool?.attributes['approval.id']).toBe(started.payload?.approvalId);
    expect(approved.receipt?.proof).toMatch(/^hmac-sha256:hitl-test:/);
  });

  it('process 3 resumes with the serialized receipt: approval → allow → result, in the same run', async () => {
    const resumed = await step('resume', db, {
      payload: started.payload,
      resume: approved.receipt,
    });
    expect(resumed.sent).toEqual([edited]);
    expect(resumed.messages?.at(-1)?.content).toBe('Sent.');
    const tools = resumed.spans.filter((s) => s.name === 'execute_tool send_email');
    expect(tools.map((s) => s.attributes['decision.outcome'])).toEqual([
      'approval_required',
      'allow',
    ]);
    const allowed = tools[1]!;
    expect(allowed.attributes['authorization.method']).toBe('human_approval');
    expect(allowed.attributes['approval.id']).toBe(started.payload?.approvalId);
    expect(allowed.attributes['approval.approver']).toBe('user:jane');
    expect(allowed.attributes['gen_ai.tool.call.id']).toBe('call_x1');
    expect(allowed.attributes['input.hash']).toBe(hashOf(edited, env.HITL_HASH_SECRET));
    expect(allowed.attributes['output.hash']).toBeDefined();
    const approval = approved.spans.find((s) => s.name === 'approval send_email');
    expect(approval?.attributes['approval.edits']).toEqual(['body']);
    // One run across the three processes, one trace.
    const runId = started.spans[0]?.attributes['workflow.run_id'];
    const all = [...started.spans, ...approved.spans, ...resumed.spans];
    for (const s of all) expect(s.attributes['workflow.run_id']).toBe(runId);
    expect(new Set(all.map((s) => s.traceId)).size).toBe(1);
  });

  it('a receipt altered after signing (arguments swapped, hash recomputed) approves nothing', async () => {
    const forkDb = join(work, 'fork.sqlite');
    const swapped = { to: 'attacker@evil.test', body: 'final text' };
    const forged = {
      ...approved.receipt,
      approvedInput: swapped,
      inputHash: hashOf(swapped, env.HITL_HASH_SECRET),
    };
    const resumed = await step('resume', forkDb, { payload: started.payload, resume: forged });
    expect(resumed.sent).toEqual([]);
    const last = resumed.spans.filter((s) => s.name === 'execute_tool send_email').at(-1)!;
    expect(last.attributes['decision.outcome']).toBe('approval_required');
    expect(last.events).toContain('approval.invalid');
    const toolMsg = resumed.messages?.find((m) => m.type === 'tool');
    expect(toolMsg?.status).toBe('error');
  });
});
