/**
 * One peer SDK's arm of the peers bench, in a process of its own (`fork`ed by peers-bench.ts):
 * `node benchmarks/dist/peer-arm.js <openinference|openllmetry|langfuse>`. It sets the peer up
 * the way its documentation does, with its default raw-content capture and a discarding
 * exporter, then answers each `{ calls }` message with one measured round (`ArmRound`).
 *
 * A process per SDK, as in an application that uses one of them: loading one SDK must not change
 * what another costs. It does: @traceloop/node-server-sdk loads nunjucks, whose
 * `Object.create(String.prototype)` makes every `charCodeAt` loop in the process several times
 * slower (V8), which agent-audit's input hashing and redaction are full of.
 */
import { type Arm, measureRound } from './bench-arm.js';
import { DiscardingExporter, oneKbInput } from './bench-support.js';

type PeerName = 'openinference' | 'openllmetry' | 'langfuse';

const tool = async (_input: Record<string, unknown>) => ({ ok: true });

async function setUp(name: PeerName): Promise<Arm> {
  const input = oneKbInput();
  switch (name) {
    case 'openinference': {
      // Phoenix's documented setup: a NodeTracerProvider registered globally, traceTool around
      // the function (it records the arguments and the result as input.value / output.value).
      const { traceTool } = await import('@arizeai/openinference-core');
      const { NodeTracerProvider } = await import('@opentelemetry/sdk-trace-node');
      const { BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
      const provider = new NodeTracerProvider({
        spanProcessors: [new BatchSpanProcessor(new DiscardingExporter() as never)],
      });
      provider.register();
      const tracedSearch = traceTool(tool, { name: 'search' });
      return { name, call: () => tracedSearch(input), settle: () => provider.forceFlush() };
    }
    case 'openllmetry': {
      // initialize() starts its NodeSDK (global provider, context manager, instrumentations);
      // no API key and prompt sync off: nothing leaves the host. withTool records
      // traceloop.entity.input / .output.
      const traceloop = await import('@traceloop/node-server-sdk');
      traceloop.initialize({
        appName: 'peers-bench',
        exporter: new DiscardingExporter() as never,
        silenceInitializationMessage: true,
        traceloopSyncEnabled: false,
      });
      return {
        name,
        call: () => traceloop.withTool({ name: 'search' }, tool, input),
        settle: () => traceloop.forceFlush(),
      };
    }
    case 'langfuse': {
      // Langfuse v5's documented setup: its span processor on the global provider;
      // startActiveObservation as a tool, input and output set on the observation.
      const { LangfuseSpanProcessor } = await import('@langfuse/otel');
      const { startActiveObservation } = await import('@langfuse/tracing');
      const { NodeTracerProvider } = await import('@opentelemetry/sdk-trace-node');
      const provider = new NodeTracerProvider({
        spanProcessors: [
          new LangfuseSpanProcessor({
            exporter: new DiscardingExporter() as never,
            publicKey: 'pk-lf-bench',
            secretKey: 'sk-lf-bench',
            baseUrl: 'http://127.0.0.1:9',
          }),
        ],
      });
      provider.register();
      return {
        name,
        call: () =>
          startActiveObservation(
            'search',
            async (observation) => {
              observation.update({ input });
              const output = await tool(input);
              observation.update({ output });
              return output;
            },
            { asType: 'tool' },
          ),
        settle: () => provider.forceFlush(),
      };
    }
    default:
      throw new Error(
        `peer-arm: unknown peer ${String(name)}; expected openinference, openllmetry or langfuse`,
      );
  }
}

async function main(): Promise<void> {
  const arm = await setUp(process.argv[2] as PeerName);
  let queue = Promise.resolve();
  process.on('message', (message: { calls: number }) => {
    queue = queue.then(async () => {
      try {
        process.send!({ round: await measureRound(arm, message.calls) });
      } catch (error) {
        process.send!({ error: error instanceof Error ? error.stack : String(error) });
      }
    });
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: true });
}

main().catch((error: unknown) => {
  process.send?.({ error: error instanceof Error ? error.stack : String(error) });
  process.exitCode = 1;
});
