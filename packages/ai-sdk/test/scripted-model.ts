// A scripted model for the AI SDK's own mock language models (`ai/test`: MockLanguageModelV3 in
// ai@6, MockLanguageModelV4 in ai@7). Each model call answers the next step of the script:
// either tool calls or a final text. The generate result and stream parts below are the same
// shape in specification v3 and v4.

export interface ScriptedToolCall {
  id: string;
  name: string;
  input: unknown;
}

export type ScriptStep = { toolCalls: ScriptedToolCall[] } | { text: string };

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

/** Token usage the scripted model reports for step `i` (0-based). */
export const scriptedUsage = (i: number) => ({ input: 100 + i, output: 10 + i });

function content(step: ScriptStep) {
  if ('text' in step) return [{ type: 'text', text: step.text }];
  return step.toolCalls.map((c) => ({
    type: 'tool-call',
    toolCallId: c.id,
    toolName: c.name,
    input: JSON.stringify(c.input),
  }));
}

function finishReason(step: ScriptStep) {
  return 'text' in step
    ? { unified: 'stop', raw: 'stop' }
    : { unified: 'tool-calls', raw: 'tool_calls' };
}

function stepAt(script: ScriptStep[], i: number): ScriptStep {
  const step = script[i];
  if (step === undefined) throw new Error(`scripted model: no step ${i} in the script`);
  return step;
}

/**
 * `doGenerate` for the mock: answers call i with step i. Typed `never` so that it fits the mock
 * of either major (v3 and v4 result types); the AI SDK checks the shape at run time.
 */
export function scriptedGenerate(script: ScriptStep[]): () => Promise<never> {
  let i = 0;
  return async () => {
    const n = i++;
    const step = stepAt(script, n);
    const u = scriptedUsage(n);
    return {
      content: content(step),
      finishReason: finishReason(step),
      usage: usage(u.input, u.output),
      warnings: [],
      response: { id: `resp-${n}`, modelId: 'scripted-model', timestamp: new Date(0) },
    } as never;
  };
}

/** `doStream` for the mock: answers call i with step i as stream parts (typed as above). */
export function scriptedStream(script: ScriptStep[]): () => Promise<never> {
  let i = 0;
  return async () => {
    const n = i++;
    const step = stepAt(script, n);
    const u = scriptedUsage(n);
    const parts: unknown[] = [
      { type: 'stream-start', warnings: [] },
      {
        type: 'response-metadata',
        id: `resp-${n}`,
        modelId: 'scripted-model',
        timestamp: new Date(0),
      },
    ];
    if ('text' in step) {
      parts.push(
        { type: 'text-start', id: 't0' },
        { type: 'text-delta', id: 't0', delta: step.text },
        { type: 'text-end', id: 't0' },
      );
    } else {
      parts.push(...content(step));
    }
    parts.push({
      type: 'finish',
      finishReason: finishReason(step),
      usage: usage(u.input, u.output),
    });
    return {
      stream: new ReadableStream({
        start(controller) {
          for (const p of parts) controller.enqueue(p);
          controller.close();
        },
      }),
    } as never;
  };
}
