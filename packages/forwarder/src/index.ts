export type { ForwardPendingOptions, ForwardPendingResult } from './forward-pending.js';
export { forwardPending } from './forward-pending.js';
export type {
  DrainResult,
  ForwarderLogger,
  ForwarderOptions,
  ForwarderRecord,
  ForwarderSource,
  ForwarderState,
  ForwarderStatus,
} from './forwarder.js';
export { Forwarder } from './forwarder.js';
export type { ForwarderCursor } from './forwarder-state.js';
export { forwarderDir, readForwarderCursor } from './forwarder-state.js';
export {
  DEFAULT_OTLP_TRACES_ENDPOINT,
  resolveOtlpHeaders,
  resolveTracesEndpoint,
} from './otlp-endpoint.js';
export { storeForwarderSource } from './store-forwarder-source.js';
