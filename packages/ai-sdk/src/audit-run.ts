import {
  getRunContext,
  type RunHandle,
  type RunWorkflowOptions,
  runWorkflow,
} from '@agent-audit/instrumentation';
import { configurationError } from './configuration.js';

/**
 * Runs `fn` (a `generateText`, `streamText` or agent call, or several) inside an audited run:
 * it joins the active run when there is one (a `runWorkflow` around it, or a remote run from
 * W3C baggage), else it opens one with `runWorkflow(options)` for exactly this call. The tool
 * and LLM spans of `auditTools` / `auditModel` then carry that run.
 *
 * A `streamText` result (or an agent's `stream`) is handed back at once; a run this call opened
 * stays open until the stream has finished (its `finishReason` settles), so read the stream.
 * `fn`'s own error is rethrown unchanged. `run` is undefined when an active run was joined.
 */
export function auditRun<T>(
  options: RunWorkflowOptions,
  fn: (run: RunHandle | undefined) => T | PromiseLike<T>,
): Promise<Awaited<T>> {
  if (options === null || typeof options !== 'object') {
    throw configurationError('options', 'runWorkflow options', String(options));
  }
  if (typeof fn !== 'function') throw configurationError('fn', 'a function', typeof fn);
  if (getRunContext() !== undefined) {
    try {
      return Promise.resolve(fn(undefined)) as Promise<Awaited<T>>;
    } catch (err) {
      return Promise.reject(err);
    }
  }
  return new Promise<Awaited<T>>((resolve, reject) => {
    let delivered = false;
    runWorkflow(options, async (run) => {
      const value = (await fn(run)) as Awaited<T>;
      delivered = true;
      resolve(value);
      const finished = streamFinished(value);
      if (finished !== undefined) await finished;
    }).catch((err: unknown) => {
      // Before delivery it is fn's error, the caller's; after, the stream's reader got it.
      if (!delivered) reject(err);
    });
  });
}

/** A `streamText` / agent `stream` result's `finishReason` promise, if `value` is one. */
function streamFinished(value: unknown): PromiseLike<unknown> | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as { finishReason?: unknown; textStream?: unknown; consumeStream?: unknown };
  if (typeof v.consumeStream !== 'function' || v.textStream === undefined) return undefined;
  const reason = v.finishReason as PromiseLike<unknown> | undefined;
  return reason !== undefined && typeof reason.then === 'function' ? reason : undefined;
}

/** The part of an AI SDK agent (`ToolLoopAgent`, ai@6 and ai@7) {@link auditAgent} wraps. */
interface AgentLike {
  generate(...args: never[]): unknown;
  stream(...args: never[]): unknown;
}

/**
 * Returns the agent (e.g. a `ToolLoopAgent`) with `generate` and `stream` run through
 * {@link auditRun}: each call joins the active run, or opens one with `options`. Give the
 * agent audited tools (`auditTools`) and an audited model (`auditModel`) to record what it does.
 */
export function auditAgent<AGENT extends AgentLike>(
  agent: AGENT,
  options: RunWorkflowOptions,
): AGENT {
  if (
    agent === null ||
    typeof agent !== 'object' ||
    typeof agent.generate !== 'function' ||
    typeof agent.stream !== 'function'
  ) {
    throw configurationError('agent', 'an AI SDK agent (with generate and stream)', typeof agent);
  }
  return new Proxy(agent, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if ((key !== 'generate' && key !== 'stream') || typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        auditRun(options, () => (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
}
