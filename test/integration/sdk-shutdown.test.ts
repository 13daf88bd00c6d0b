import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyStore } from '@agent-audit/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgentLoop } from './fixtures/agent-process.js';
import { storedSpanEnds } from './fixtures/store-spans.js';

// issue 4, RELIABILITY row 23: a process that ends without anyone calling shutdown —
// process.exit(), an uncaught exception, an unhandled rejection, SIGTERM, SIGINT — still has
// every span it ended in the store. The agents are real processes running the built SDK under
// `node --import @agent-audit/sdk/register`.

describe('shutdown paths of an audited process', () => {
  let root: string;
  let env: Record<string, string>;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'aa-sdk-exit-'));
    env = {
      AGENT_AUDIT_STORE_DIR: join(root, 'store'),
      AGENT_AUDIT_TRUST_DIR: join(root, 'trust'),
      AGENT_AUDIT_FORWARD: 'false',
      OTEL_SERVICE_NAME: 'exit-test-agent',
    };
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it.each([
    ['exit', 7],
    ['uncaught', 1],
    ['rejection', 1],
  ])('%s: every span ended before the process died is in the store', async (mode, exitCode) => {
    const agent = startAgentLoop(mode, 37, env);
    const exit = await agent.exited;
    expect(exit.code, agent.output()).toBe(exitCode);
    const ended = agent.ended();
    expect(ended.length).toBeGreaterThanOrEqual(37);
    const stored = storedSpanEnds(env.AGENT_AUDIT_STORE_DIR!);
    const missing = ended.filter((id) => !stored.has(id));
    expect(missing, agent.output().slice(-2000)).toEqual([]);
    // The synchronous flush also signed a checkpoint over what it wrote: nothing unsigned left.
    const report = await verifyStore({
      dir: env.AGENT_AUDIT_STORE_DIR!,
      trustDir: env.AGENT_AUDIT_TRUST_DIR!,
    });
    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s mid-run: spans ended before the signal are stored, the signal still ends the process',
    async (signal) => {
      const agent = startAgentLoop('loop', 0, env);
      await agent.waitFor(() => agent.ended().length >= 40, '40 ended tool calls');
      const before = agent.ended();
      agent.child.kill(signal);
      const exit = await agent.exited;
      expect(exit.signal, agent.output().slice(-2000)).toBe(signal);
      const stored = storedSpanEnds(env.AGENT_AUDIT_STORE_DIR!);
      expect(before.filter((id) => !stored.has(id))).toEqual([]);
      const report = await verifyStore({
        dir: env.AGENT_AUDIT_STORE_DIR!,
        trustDir: env.AGENT_AUDIT_TRUST_DIR!,
      });
      expect(report.problems).toEqual([]);
      expect(report.exitCode).toBe(0);
    },
  );
});
