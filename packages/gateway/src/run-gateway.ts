import { registerAgentAudit } from '@agent-audit/sdk';
import { type GatewayConfig, loadGatewayConfig } from './gateway-config.js';
import { type RunningGateway, startGatewayServer } from './gateway-server.js';

export interface GatewayProcessIo {
  env: NodeJS.ProcessEnv;
  writeOut(text: string): void;
  writeErr(text: string): void;
}

export interface GatewayProcess {
  readonly config: GatewayConfig;
  readonly gateway: RunningGateway;
  /** Stops accepting requests, then flushes and closes the gateway's audit store. */
  stop(): Promise<void>;
}

/**
 * Loads the configuration, opens the gateway's own audit store (`registerAgentAudit` with the
 * configured store and trust directories: one per process) and starts serving. Prints
 * `gateway listening on <url>` on stdout once requests are accepted.
 */
export async function startGatewayProcess(
  configFile: string,
  io: GatewayProcessIo,
): Promise<GatewayProcess> {
  const config = loadGatewayConfig(configFile, io.env);
  const audit = registerAgentAudit({
    serviceName: 'agent-audit-gateway',
    storeDir: config.storeDir,
    trustDir: config.trustDir,
    installExitHandlers: false,
  });
  let gateway: RunningGateway;
  try {
    gateway = await startGatewayServer(config, { log: (line) => io.writeErr(`${line}\n`) });
  } catch (error) {
    await audit.shutdown();
    throw error;
  }
  io.writeOut(
    `gateway listening on ${gateway.url} (audience ${config.audience}, store ${config.storeDir})\n`,
  );
  let stopping: Promise<void> | undefined;
  return {
    config,
    gateway,
    stop: () => {
      stopping ??= gateway.close().then(() => audit.shutdown());
      return stopping;
    },
  };
}
