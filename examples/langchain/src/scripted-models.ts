import { AIMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';

const usage = (input: number, output: number) => ({
  input_tokens: input,
  output_tokens: output,
  total_tokens: input + output,
});

/**
 * LangChain's own fake chat model (no network, no key), scripted: first two tool calls in one
 * message (a lookup, and a delete the policy stops), then a refund that needs approval, then
 * the answer.
 */
export function supportModel() {
  return fakeModel()
    .respond(
      new AIMessage({
        content: '',
        tool_calls: [
          { name: 'lookup_order', args: { orderId: 'order-5521' }, id: 'call_lookup_1' },
          { name: 'delete_account', args: { customerId: 'cust-88' }, id: 'call_delete_1' },
        ],
        usage_metadata: usage(120, 24),
        response_metadata: { finish_reason: 'tool_calls' },
      }),
    )
    .respond(
      new AIMessage({
        content: '',
        tool_calls: [
          {
            name: 'refund_order',
            args: { orderId: 'order-5521', amount: 250 },
            id: 'call_refund_1',
          },
        ],
        usage_metadata: usage(180, 18),
        response_metadata: { finish_reason: 'tool_calls' },
      }),
    )
    .respond(
      new AIMessage({
        content: 'Refunded 200 on order-5521; the account stays open.',
        usage_metadata: usage(240, 14),
        response_metadata: { finish_reason: 'stop' },
      }),
    );
}

/** The research graph's model: one knowledge-base search, then a summary. */
export function researchModel() {
  return fakeModel()
    .respond(
      new AIMessage({
        content: '',
        tool_calls: [{ name: 'search_kb', args: { query: 'refund limits' }, id: 'call_kb_1' }],
        usage_metadata: usage(60, 9),
        response_metadata: { finish_reason: 'tool_calls' },
      }),
    )
    .respond(
      new AIMessage({
        content: 'Refunds above 100 need a supervisor (KB-17).',
        usage_metadata: usage(90, 12),
        response_metadata: { finish_reason: 'stop' },
      }),
    );
}
