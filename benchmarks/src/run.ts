/**
 * `pnpm bench`: runs every benchmark in one process run, so each ratio compares against a
 * baseline measured on the same machine at the same time (these machines are shared and
 * noisy; absolute numbers are reported, ratios are the targets). Progress goes to stderr;
 * the last line of stdout is one JSON object with every figure.
 */
import { availableParallelism } from 'node:os';
import { runOtlpBench } from './otlp-bench.js';
import { runSdkBench } from './sdk-bench.js';
import { runStoreBench } from './store-bench.js';

type Figures = Record<string, number>;

const suites: { name: string; run: () => Promise<Figures> }[] = [
  { name: 'sdk', run: runSdkBench },
  { name: 'store', run: runStoreBench },
  { name: 'otlp', run: runOtlpBench },
];

async function main(): Promise<void> {
  const summary: Record<string, number | string> = {
    node: process.version,
    cpus: availableParallelism(),
  };
  for (const suite of suites) {
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
