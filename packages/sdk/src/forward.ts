// `@agent-audit/sdk/forward`: ship what a store holds to the OTLP endpoint from any process,
// without registering anything. The implementation is @agent-audit/forwarder's.
export type { ForwardPendingOptions, ForwardPendingResult } from '@agent-audit/forwarder';
export { forwardPending } from '@agent-audit/forwarder';
