export type { GatewayConfig, GatewayRoute, GatewayUpstream } from './gateway-config.js';
export { GatewayConfigError, loadGatewayConfig, pathPattern } from './gateway-config.js';
export type { GatewayServerOptions, RunningGateway } from './gateway-server.js';
export { createGatewayHandler, GATEWAY_POLICY_ID, startGatewayServer } from './gateway-server.js';
export type { GatewayProcess, GatewayProcessIo } from './run-gateway.js';
export { startGatewayProcess } from './run-gateway.js';
