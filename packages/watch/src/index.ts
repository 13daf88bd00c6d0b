export type { Alert } from './alert.js';
export { alertId, alertLine, explainCommand } from './alert.js';
export type { StoredAlert } from './alert-store.js';
export { AlertStore, readAlerts } from './alert-store.js';
export { detectHistory } from './detect-history.js';
export type { DetectorNotice, DetectorState } from './detector.js';
export { Detector } from './detector.js';
export { NAMES as FEATURE_NAMES } from './feature-names.js';
export { QuantileSketch } from './quantile-sketch.js';
export { SinkOutbox } from './sink-outbox.js';
export type { Sink } from './sinks.js';
export {
  DEDUP_HEADER,
  otlpLogsSink,
  SIGNATURE_HEADER,
  signBody,
  slackSink,
  stdoutSink,
  webhookSink,
} from './sinks.js';
export type { FollowNotice } from './store-follower.js';
export { StoreFollower } from './store-follower.js';
export type { ToolCall } from './tool-call.js';
export { toolCallOf } from './tool-call.js';
export type {
  PatternName,
  QuantileConfig,
  RateConfig,
  Severity,
  SinkConfig,
  StoreSource,
  WatchConfig,
} from './watch-config.js';
export { loadWatchConfig, PATTERNS, WatchConfigError, watchConfigFrom } from './watch-config.js';
export type { StepResult, WatcherOptions } from './watcher.js';
export { Watcher } from './watcher.js';
