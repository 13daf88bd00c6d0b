import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configureRunContextTrust, runWorkflow } from '@agent-audit/instrumentation';
import { auditMcpClient } from '@agent-audit/mcp';
import { registerAgentAudit } from '@agent-audit/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { median, oneKbInput } from './bench-support.js';

// issue 11: mcp_call_overhead_ratio = one audited `callTool` round trip over stdio (the agent's
// client audited into its store, the server process audited into its own: execute_tool spans
// on both sides, input/output hashes, `_meta` trace context, run spans on the server) / the
// same round trip with a plain client and a plain server process (the same McpServer, tool and
// 1 KB argument). mcp_call_client_only_ratio: an audited client against the plain server (the
// agent's side alone). mcp_call_signed_overhead_ratio: the audited pair with a signed run
// context in `_meta` (Ed25519: the client signs, the server verifies it). The servers run for
// the whole benchmark; the arms alternate round by round, order rotated; the ratio of the p50s (and of the p99s) per round, median over rounds.

const CALLS_PER_ROUND = 300;
const ROUNDS = 12;
const WARMUP_ROUNDS = 2;
const SERVER = fileURLToPath(new URL('./mcp-bench-server.js', import.meta.url));

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function connect(
  client: 'audited' | 'plain',
  server: 'audited' | 'plain' | 'signed',
  storeDir: string,
  trustDir: string,
  env: Record<string, string> = {},
) {
  const c = new Client({ name: `bench-${client}`, version: '1.0.0' });
  if (client === 'audited') auditMcpClient(c);
  await c.connect(
    new StdioClientTransport({
      command: process.execPath,
      // AGENT_AUDIT_BENCH_PROF_DIR: profile the server processes too (`--cpu-prof` is not
      // allowed in NODE_OPTIONS).
      args: [...profileArgs(), SERVER, server],
      env: {
        ...(process.env as Record<string, string>),
        AGENT_AUDIT_STORE_DIR: storeDir,
        AGENT_AUDIT_TRUST_DIR: trustDir,
        ...env,
      },
      stderr: 'inherit',
    }),
  );
  return c;
}

function profileArgs(): string[] {
  const dir = process.env.AGENT_AUDIT_BENCH_PROF_DIR;
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

export async function runMcpBench(): Promise<Record<string, number>> {
  const work = mkdtempSync(join(tmpdir(), 'agent-audit-bench-mcp-'));
  const trustDir = join(work, 'trust');
  const audit = registerAgentAudit({
    serviceName: 'bench-mcp-agent',
    storeDir: join(work, 'agent-store'),
    trustDir,
    forward: false,
    installExitHandlers: false,
  });
  const audited = await connect('audited', 'audited', join(work, 'server-store'), trustDir);
  const plain = await connect('plain', 'plain', join(work, 'plain-server-unused'), trustDir);
  // Where the overhead is: the agent's side alone (audited client, plain server).
  const clientOnly = await connect('audited', 'plain', join(work, 'unused'), trustDir);
  // The audited pair with a signed run context (the client signs, the server verifies each
  // `_meta`): trust is configured in this process only around this arm's rounds.
  const keys = generateKeyPairSync('ed25519');
  const signed = await connect('audited', 'signed', join(work, 'signed-server-store'), trustDir, {
    AGENT_AUDIT_BENCH_TRUSTED_KEY: keys.publicKey.export({ type: 'spki', format: 'pem' }) as string,
  });
  const signing = { audience: 'bench-mcp', signingKey: keys.privateKey };
  const input = oneKbInput();
  const args = {
    query: String(input.query),
    page: 1,
    filters: input.filters as Record<string, string>,
  };

  const round = async (client: Client, n: number): Promise<number[]> => {
    const ns: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await client.callTool({ name: 'search', arguments: args });
      ns.push(Number(process.hrtime.bigint() - t0));
    }
    return ns;
  };
  // The agent's calls are made inside a run, as a real agent's are (the plain arm too: an
  // open run changes nothing for an unaudited client).
  const runOptions = {
    agentId: 'bench-agent',
    triggerPrincipal: 'user:bench',
    credentialRef: 'cred:bench',
  };
  const inRun = async (client: Client, n: number) => {
    if (client !== signed) return runWorkflow(runOptions, () => round(client, n));
    configureRunContextTrust(signing);
    try {
      return await runWorkflow(runOptions, () => round(client, n));
    } finally {
      configureRunContextTrust(undefined);
    }
  };

  try {
    for (let i = 0; i < WARMUP_ROUNDS; i++) {
      for (const c of [plain, audited, clientOnly, signed]) await inRun(c, CALLS_PER_ROUND);
    }
    const p50Ratios: number[] = [];
    const p99Ratios: number[] = [];
    const clientOnlyRatios: number[] = [];
    const signedRatios: number[] = [];
    const all = { audited: [] as number[], plain: [] as number[], signed: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      const got = new Map<Client, number[]>();
      // Rotate the order, so no arm always runs on a warmer or colder heap.
      const arms = [plain, audited, clientOnly, signed];
      for (let k = 0; k < arms.length; k++) {
        const c = arms[(r + k) % arms.length]!;
        got.set(c, await inRun(c, CALLS_PER_ROUND));
      }
      const a = got.get(audited)!;
      const p = got.get(plain)!;
      p50Ratios.push(percentile(a, 50) / percentile(p, 50));
      p99Ratios.push(percentile(a, 99) / percentile(p, 99));
      clientOnlyRatios.push(percentile(got.get(clientOnly)!, 50) / percentile(p, 50));
      signedRatios.push(percentile(got.get(signed)!, 50) / percentile(p, 50));
      all.signed.push(...got.get(signed)!);
      all.audited.push(...a);
      all.plain.push(...p);
    }
    const us = (ns: number) => Number((ns / 1000).toFixed(1));
    return {
      mcp_call_overhead_ratio: Number(median(p50Ratios).toFixed(3)),
      mcp_call_overhead_ratio_p99: Number(median(p99Ratios).toFixed(3)),
      mcp_call_client_only_ratio: Number(median(clientOnlyRatios).toFixed(3)),
      mcp_call_signed_overhead_ratio: Number(median(signedRatios).toFixed(3)),
      mcp_call_signed_p50_us: us(percentile(all.signed, 50)),
      mcp_call_audited_p50_us: us(percentile(all.audited, 50)),
      mcp_call_plain_p50_us: us(percentile(all.plain, 50)),
      mcp_call_audited_p99_us: us(percentile(all.audited, 99)),
      mcp_call_plain_p99_us: us(percentile(all.plain, 99)),
    };
  } finally {
    await audited.close();
    await plain.close();
    await clientOnly.close();
    await signed.close();
    await audit.shutdown();
    rmSync(work, { recursive: true, force: true });
  }
}
