import { runWorkflow, traceToolCall } from '@agent-audit/instrumentation';

/** Agent load that keeps running across an outage, until stopped. */
export interface ContinuousLoad {
  /** Tool spans ended so far. */
  toolSpans(): number;
  /** Stops starting new runs and waits for the ones in flight. */
  stop(): Promise<void>;
}

/**
 * `workers` concurrent loops of runs of 5 tool calls each, with random awaits, through the
 * globally registered SDK: what an agent fleet looks like to the store and the forwarder.
 */
export function startContinuousLoad(options: {
  agentId: string;
  credentialRef: string;
  workers: number;
}): ContinuousLoad {
  let stopped = false;
  let toolSpans = 0;
  const worker = async (w: number) => {
    for (let i = 0; !stopped; i++) {
      await runWorkflow(
        { agentId: options.agentId, credentialRef: options.credentialRef, input: { w, i } },
        async () => {
          for (let t = 0; t < 5; t++) {
            await traceToolCall({ toolName: `tool_${t % 3}`, input: { w, i, t } }, async () => {
              await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 4)));
            });
            toolSpans++;
          }
        },
      );
    }
  };
  const running = Promise.all(Array.from({ length: options.workers }, (_, w) => worker(w)));
  return {
    toolSpans: () => toolSpans,
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}

/** Polls `cond` every 25 ms for at most `timeoutMs`; fails naming what it waited for. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
