import { openSegmentReader, resolveStoreLocations } from '@agent-audit/store';
import {
  type DrainResult,
  Forwarder,
  type ForwarderOptions,
  type ForwarderStatus,
} from './forwarder.js';
import { storeForwarderSource } from './store-forwarder-source.js';

export interface ForwardPendingOptions {
  /** The store directory. Env `AGENT_AUDIT_STORE_DIR`. The default value is `./.agent-audit`. */
  storeDir?: string;
  /** OTLP/HTTP traces URL; the default follows the OTLP environment variables (see Forwarder). */
  endpoint?: string;
  /**
   * Keep retrying (with backoff, honouring Retry-After) until everything stored is acknowledged
   * or `timeoutMillis` passes. Without it, one pass that stops at the first failure.
   * The default value is false.
   */
  drain?: boolean;
  /** Give up draining after this long. The default value is 60000. */
  timeoutMillis?: number;
  headers?: Record<string, string>;
  /** Records read per request. The default value is the Forwarder's (512). */
  maxBatchRecords?: number;
  /** See {@link ForwarderOptions.logger}. The default value is silent. */
  logger?: ForwarderOptions['logger'];
}

export interface ForwardPendingResult extends DrainResult {
  status: ForwarderStatus;
}

/**
 * Ships what is stored after the forwarder's cursor to the OTLP endpoint, from any process (the
 * CLI's `agent-audit forward [--drain]`, a restarted agent, a test). `ok` is true once nothing
 * stored is left unacknowledged; otherwise `reason` says why.
 */
export async function forwardPending(
  options: ForwardPendingOptions = {},
): Promise<ForwardPendingResult> {
  const { storeDir } = resolveStoreLocations({ storeDir: options.storeDir });
  const reader = openSegmentReader(storeDir);
  try {
    const forwarder = new Forwarder({
      storeDir,
      source: storeForwarderSource(reader),
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.headers !== undefined ? { headers: options.headers } : {}),
      ...(options.maxBatchRecords !== undefined
        ? { maxBatchRecords: options.maxBatchRecords }
        : {}),
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
    });
    const result = await forwarder.drain({
      timeoutMillis: options.drain ? (options.timeoutMillis ?? 60_000) : 0,
    });
    const status = await forwarder.status();
    await forwarder.stop();
    return { ...result, status };
  } finally {
    reader.close();
  }
}
