/**
 * `pnpm bench`: runs every benchmark in one process run, so each ratio compares against a
 * baseline measured on the same machine at the same time (these machines are shared and
 * noisy; absolute numbers are reported, ratios are the targets). Progress goes to stderr;
 * the last line of stdout is one JSON object with every figure.
 *
 * `node benchmarks/dist/run.js [suite…]` runs only the named suites (sdk, store, otlp, mcp,
 * ai-sdk, langchain, gateway, openai-agents, anomalies, kafka, peers), for iterating on one of
 * them; `pnpm bench` runs them all.
 */
import { availableParallelism } from 'node:os';
import { runAiSdkBench } from './ai-sdk-bench.js';
import { runAnomaliesBench } from './anomalies-bench.js';
import { runArchiveBench } from './archive-bench.js';
import { runConsoleBench } from './console-bench.js';
import { runGatewayBench } from './gateway-bench.js';
import { runKafkaBench } from './kafka-bench.js';
import { runLangChainBench } from './langchain-bench.js';
import { runMcpBench } from './mcp-bench.js';
import { runOpenAiAgentsBench } from './openai-agents-bench.js';
import { runOtlpBench } from './otlp-bench.js';
import { runPeersBench } from './peers-bench.js';
import { runSdkBench } from './sdk-bench.js';
import { runStoreBench } from './store-bench.js';

type Figures = Record<string, number | string>;

const suites: { name: string; run: () => Promise<Figures> }[] = [
  { name: 'sdk', run: runSdkBench },
  { name: 'store', run: runStoreBench },
  { name: 'otlp', run: runOtlpBench },
  { name: 'langchain', run: runLangChainBench },
  // issue 11: audited MCP callTool round trip over stdio / unaudited (its own file).
  { name: 'mcp', run: runMcpBench },
  { name: 'ai-sdk', run: runAiSdkBench },
  // issue 16: the S3 Object Lock archive against the real versitygw (its own file).
  { name: 'archive', run: runArchiveBench },
  { name: 'gateway', run: runGatewayBench },
  // Runs itself under the pinned Node 22 (openai@7 needs it): a child process of its own.
  { name: 'openai-agents', run: runOpenAiAgentsBench },
  { name: 'anomalies', run: runAnomaliesBench },
  // issue 15: the audit console's search over a store of a million spans (its own file).
  { name: 'console', run: runConsoleBench },
  // issue 16: spans/s into Jaeger through collector → Kafka → ingester / direct OTLP (its own file).
  { name: 'kafka', run: runKafkaBench },
  // Last: OpenLLMetry's initialize() leaves require hooks for LLM client libraries in the process.
  { name: 'peers', run: runPeersBench },
];

async function main(): Promise<void> {
  const summary: Record<string, number | string> = {
    node: process.version,
    cpus: availableParallelism(),
  };
  const only = process.argv.slice(2);
  const unknown = only.filter((name) => !suites.some((s) => s.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `bench: no suite ${unknown.join(', ')}; expected some of ${suites.map((s) => s.name).join(', ')}`,
    );
  }
  for (const suite of suites.filter((s) => only.length === 0 || only.includes(s.name))) {
    const started = performance.now();
    process.stderr.write(`bench: ${suite.name}…\n`);
    const figures = await suite.run();
    for (const [key, value] of Object.entries(figures)) {
      process.stderr.write(`  ${key} = ${value}\n`);
      summary[key] = value;
    }
    process.stderr.write(
      `bench: ${suite.name} done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
