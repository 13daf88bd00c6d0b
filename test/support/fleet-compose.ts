// Rules that keep docker-compose.yml's `fleet` profile (Kafka, fleet-collector, fleet-ingester)
// consistent with tools/jaeger/config/kafka-{collector,ingester}.yaml and with the guarantee the
// fleet tests prove: the collector answers only once Kafka has the batch. Used by
// test/integration/fleet-compose.test.ts; no Docker engine runs here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  expandEnv,
  imageTag,
  type ServiceFacts,
  serviceFacts,
  splitHostPort,
} from './compose-consistency.js';
import { REPO_ROOT } from './jaeger.js';

type Yaml = Record<string, unknown>;

export const FLEET_COLLECTOR_CONFIG = 'tools/jaeger/config/kafka-collector.yaml';
export const FLEET_INGESTER_CONFIG = 'tools/jaeger/config/kafka-ingester.yaml';

function asRecord(value: unknown): Yaml {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Yaml)
    : {};
}

function get(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) current = asRecord(current)[key];
  return current;
}

/** The Kafka release tools/kafka/pom.xml pins (what the tests run). */
export function pinnedKafkaVersion(): string {
  const pom = readFileSync(join(REPO_ROOT, 'tools/kafka/pom.xml'), 'utf8');
  const match = /<artifactId>kafka_2\.13<\/artifactId>\s*<version>([^<]+)<\/version>/.exec(pom);
  if (!match) throw new Error('tools/kafka/pom.xml: no kafka_2.13 version');
  return match[1]!;
}

/** Services of the `fleet` profile running an image that starts with `prefix`. */
function fleetService(compose: Yaml, prefix: string): string | undefined {
  for (const [name, service] of Object.entries(asRecord(compose.services))) {
    if (!inFleet(service)) continue;
    if (String(asRecord(service).image ?? '').startsWith(prefix)) return name;
  }
  return undefined;
}

function inFleet(service: unknown): boolean {
  const profiles = asRecord(service).profiles;
  return Array.isArray(profiles) && profiles.includes('fleet');
}

/** The fleet's collector and ingester: the names docs/deployment.md gives them. */
export const FLEET_COLLECTOR = 'fleet-collector';
export const FLEET_INGESTER = 'fleet-ingester';
/** Both run the Jaeger v2 binary, as the tests do (the release docker-compose.test.ts pins). */
const JAEGER_IMAGE = 'jaegertracing/jaeger:';

export interface FleetFiles {
  compose: Yaml;
  readMounted(repoPath: string): Yaml | undefined;
}

export interface FleetServices {
  kafka: string;
  collector: string;
  ingester: string;
}

export function fleetServices(compose: Yaml): Partial<FleetServices> {
  const services = asRecord(compose.services);
  const named = (name: string) => (inFleet(services[name]) ? name : undefined);
  return {
    kafka: fleetService(compose, 'apache/kafka:'),
    collector: named(FLEET_COLLECTOR),
    ingester: named(FLEET_INGESTER),
  };
}

function mountedConfig(
  files: FleetFiles,
  facts: ServiceFacts,
  expected: string,
  problems: string[],
): Yaml | undefined {
  if (!facts.configPath) {
    problems.push(`${facts.name}: command has no --config`);
    return undefined;
  }
  const mount = facts.mounts.find((m) => !m.named && m.target === facts.configPath);
  if (!mount) {
    problems.push(`${facts.name}: nothing is mounted at ${facts.configPath}, the --config path`);
    return undefined;
  }
  const source = mount.source.replace(/^\.\//, '');
  if (source !== expected) {
    problems.push(`${facts.name}: ${facts.configPath} is ${source}, not ${expected}`);
    return undefined;
  }
  return files.readMounted(source);
}

const ANY_HOST = ['0.0.0.0', '', '[::]'];

/** Every inconsistency in the fleet profile, as sentences; empty when consistent. */
export function fleetComposeProblems(files: FleetFiles): string[] {
  const problems: string[] = [];
  const { compose } = files;
  const names = fleetServices(compose);
  if (!names.kafka) problems.push('fleet profile: no service runs an image apache/kafka:…');
  if (!names.collector) problems.push(`fleet profile: no service ${FLEET_COLLECTOR}`);
  if (!names.ingester) problems.push(`fleet profile: no service ${FLEET_INGESTER}`);
  if (!names.kafka || !names.collector || !names.ingester) return problems;

  // The collector and the ingester run the binary the tests run: the Jaeger release of the
  // compose file's own jaeger service (docker-compose.test.ts pins that one to tools/jaeger).
  const jaegerService = Object.values(asRecord(compose.services)).find(
    (service) =>
      !inFleet(service) && String(asRecord(service).image ?? '').startsWith(JAEGER_IMAGE),
  );
  const jaegerImage = jaegerService ? String(asRecord(jaegerService).image) : undefined;
  for (const name of [names.collector, names.ingester]) {
    const image = String(asRecord(asRecord(compose.services)[name]).image ?? '');
    if (!image.startsWith(JAEGER_IMAGE) || (jaegerImage && image !== jaegerImage)) {
      problems.push(
        `${name}: image ${image || '(none)'}, the tests run it on the Jaeger v2 binary (${jaegerImage ?? `${JAEGER_IMAGE}…`}, built from tools/jaeger)`,
      );
    }
  }

  const kafka = serviceFacts(compose, names.kafka);
  if (imageTag(compose, names.kafka) !== pinnedKafkaVersion()) {
    problems.push(
      `${names.kafka}: image tag ${imageTag(compose, names.kafka)}, the tests run Kafka ${pinnedKafkaVersion()} (tools/kafka/pom.xml)`,
    );
  }
  // Where clients reach the broker: the PLAINTEXT advertised listener.
  const advertised = /PLAINTEXT:\/\/([^,]+)/.exec(kafka.env.KAFKA_ADVERTISED_LISTENERS ?? '');
  const broker = advertised ? splitHostPort(advertised[1]!) : undefined;
  if (!broker)
    problems.push(`${names.kafka}: KAFKA_ADVERTISED_LISTENERS has no PLAINTEXT listener`);
  else if (broker.host !== names.kafka) {
    problems.push(
      `${names.kafka}: advertises host ${broker.host}, which other containers cannot resolve (the service is ${names.kafka})`,
    );
  }
  if (!kafka.mounts.some((m) => m.named && m.target === kafka.env.KAFKA_LOG_DIRS)) {
    problems.push(
      `${names.kafka}: log dir ${kafka.env.KAFKA_LOG_DIRS ?? '(KAFKA_LOG_DIRS unset)'} is not on a named volume`,
    );
  }

  const collector = serviceFacts(compose, names.collector);
  const ingester = serviceFacts(compose, names.ingester);
  const collectorConfig = mountedConfig(files, collector, FLEET_COLLECTOR_CONFIG, problems);
  const ingesterConfig = mountedConfig(files, ingester, FLEET_INGESTER_CONFIG, problems);
  if (!collectorConfig || !ingesterConfig) return problems;

  // Both reach the broker and agree on the topic.
  const endpoints: Array<[ServiceFacts, string, Yaml]> = [
    [collector, 'exporters.kafka', asRecord(get(collectorConfig, 'exporters', 'kafka'))],
    [ingester, 'receivers.kafka', asRecord(get(ingesterConfig, 'receivers', 'kafka'))],
  ];
  const topics = new Set<string>();
  for (const [facts, where, cfg] of endpoints) {
    const brokers = Array.isArray(cfg.brokers) ? cfg.brokers.map(String) : [];
    if (brokers.length === 0) problems.push(`${facts.name}: ${where}.brokers missing`);
    for (const raw of brokers) {
      const target = splitHostPort(expandEnv(raw, facts.env));
      if (broker && (target.host !== broker.host || target.port !== broker.port)) {
        problems.push(
          `${facts.name}: ${where} connects to ${target.host}:${target.port}, ${names.kafka} advertises ${broker.host}:${broker.port}`,
        );
      }
    }
    const topic = get(cfg, 'traces', 'topic');
    topics.add(typeof topic === 'string' ? expandEnv(topic, facts.env) : 'otlp_spans');
  }
  if (topics.size !== 1) {
    problems.push(`the collector and the ingester use different topics: ${[...topics].join(', ')}`);
  }

  // The guarantee: the collector's 200 means Kafka has the batch.
  const exporter = asRecord(get(collectorConfig, 'exporters', 'kafka'));
  if (get(exporter, 'sending_queue', 'enabled') !== false) {
    problems.push(
      `${FLEET_COLLECTOR_CONFIG}: exporters.kafka.sending_queue.enabled is not false: the collector would answer before Kafka has the batch`,
    );
  }
  if (String(get(exporter, 'producer', 'required_acks')) !== '-1') {
    problems.push(
      `${FLEET_COLLECTOR_CONFIG}: exporters.kafka.producer.required_acks is not -1 (acks from all in-sync replicas)`,
    );
  }
  const pipeline = get(collectorConfig, 'service', 'pipelines', 'traces', 'processors');
  if (Array.isArray(pipeline) && pipeline.some((p) => String(p).startsWith('batch'))) {
    problems.push(
      `${FLEET_COLLECTOR_CONFIG}: a batch processor answers the agent before the export: remove it`,
    );
  }
  if (get(ingesterConfig, 'receivers', 'kafka', 'message_marking', 'after') !== true) {
    problems.push(
      `${FLEET_INGESTER_CONFIG}: receivers.kafka.message_marking.after is not true: a killed ingester would skip what it had not stored`,
    );
  }

  // Agents reach the collector: receivers on all interfaces, on published ports.
  for (const protocol of ['grpc', 'http']) {
    const raw = get(collectorConfig, 'receivers', 'otlp', 'protocols', protocol, 'endpoint');
    if (typeof raw !== 'string') {
      problems.push(
        `${FLEET_COLLECTOR_CONFIG}: receivers.otlp.protocols.${protocol}.endpoint missing`,
      );
      continue;
    }
    const { host, port } = splitHostPort(expandEnv(raw, collector.env));
    if (!ANY_HOST.includes(host)) {
      problems.push(
        `${collector.name}: OTLP/${protocol} receiver binds ${host}, unreachable from outside`,
      );
    }
    if (!collector.published.some((p) => p.target === port)) {
      problems.push(`${collector.name}: OTLP/${protocol} receiver port ${port} is not published`);
    }
  }

  // The ingester's UI is reachable and its Badger data survives `down`/`up`.
  const ui = get(ingesterConfig, 'extensions', 'jaeger_query', 'http', 'endpoint');
  const uiEndpoint = splitHostPort(expandEnv(typeof ui === 'string' ? ui : ':16686', ingester.env));
  if (!ANY_HOST.includes(uiEndpoint.host)) {
    problems.push(
      `${ingester.name}: UI binds ${uiEndpoint.host}, unreachable through the published port`,
    );
  }
  if (!ingester.published.some((p) => p.target === uiEndpoint.port)) {
    problems.push(`${ingester.name}: UI port ${uiEndpoint.port} is not published`);
  }
  const keys = get(
    ingesterConfig,
    'extensions',
    'jaeger_storage',
    'backends',
    'audit_store',
    'badger',
    'directories',
    'keys',
  );
  const dir = typeof keys === 'string' ? expandEnv(keys, ingester.env) : '';
  if (
    !ingester.mounts.some((m) => m.named && (dir === m.target || dir.startsWith(`${m.target}/`)))
  ) {
    problems.push(`${ingester.name}: Badger stores in ${dir || '(unset)'}, not on a named volume`);
  }
  return problems;
}
