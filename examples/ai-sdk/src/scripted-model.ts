import { MockLanguageModelV3 } from 'ai/test';

// The model is the AI SDK's own mock (ai/test), scripted: no network, no key. Each call answers
// the next step; the third step reacts to the refused refund it was shown as a tool error.

type Step = Array<{ id: string; name: string; input: unknown }> | string;

const SCRIPT: Step[] = [
  [
    { id: 'call_order', name: 'lookupOrder', input: { orderId: 'order-5521' } },
    { id: 'call_customer', name: 'lookupCustomer', input: { customerId: 'cust-88' } },
  ],
  [{ id: 'call_refund', name: 'issueRefund', input: { orderId: 'order-5521', amount: 120 } }],
  [
    {
      id: 'call_notify',
      name: 'notifyCustomer',
      input: { customerId: 'cust-88', message: 'A colleague will review your refund today.' },
    },
  ],
  'The full refund needs a human approval; Dana has been told a colleague will review it today.',
];

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

/** A fresh scripted model (each answers the script from its first step). */
export function scriptedModel(): MockLanguageModelV3 {
  let call = 0;
  return new MockLanguageModelV3({
    provider: 'scripted',
    modelId: 'scripted-refund-model',
    doGenerate: async () => {
      const n = call++;
      const step = SCRIPT[Math.min(n, SCRIPT.length - 1)] as Step;
      const text = typeof step === 'string';
      return {
        content: text
          ? [{ type: 'text', text: step }]
          : step.map((c) => ({
              type: 'tool-call' as const,
              toolCallId: c.id,
              toolName: c.name,
              input: JSON.stringify(c.input),
            })),
        finishReason: text
          ? { unified: 'stop', raw: 'stop' }
          : { unified: 'tool-calls', raw: 'tool_calls' },
        usage: usage(180 + 40 * n, text ? 30 : 20),
        warnings: [],
        response: { id: `resp-${n}`, modelId: 'scripted-refund-model', timestamp: new Date(0) },
      };
    },
  });
}
