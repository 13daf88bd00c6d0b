import { isAbsolute, join, normalize } from 'node:path';

// Consistency rules between docker-compose.yml, collector-config.yaml and the Jaeger config the
// compose file mounts. No Docker engine runs on the build machines, so these rules are how the
// user-facing compose file stays true to the configs the tests run for real.

type Yaml = Record<string, unknown>;

export interface ComposeFiles {
  /** Parsed docker-compose.yml. */
  compose: Yaml;
  /** Parsed collector-config.yaml. */
  collectorConfig: Yaml;
  /** Parses a file the compose file mounts, given its repository-relative path. */
  readMounted(repoPath: string): Yaml | undefined;
}

export interface ServiceFacts {
  name: string;
  env: Record<string, string>;
  configPath: string | undefined;
  mounts: Array<{ source: string; target: string; named: boolean }>;
  published: Array<{ hostIp: string | undefined; published: string; target: string }>;
}

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

/**
 * Expands the OpenTelemetry Collector's `${env:NAME}` / `${env:NAME:-default}` (and bare
 * `${NAME}`) the way the collector does at startup.
 */
export function expandEnv(value: string, env: Record<string, string>): string {
  return value.replace(
    /\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
    (_match, name: string, fallback: string | undefined) => {
      const set = env[name];
      return set !== undefined && set !== '' ? set : (fallback ?? '');
    },
  );
}

export function splitHostPort(endpoint: string): { host: string; port: string } {
  const at = endpoint.lastIndexOf(':');
  return at < 0
    ? { host: endpoint, port: '' }
    : { host: endpoint.slice(0, at), port: endpoint.slice(at + 1) };
}

function serviceEnv(service: Yaml): Record<string, string> {
  const raw = service.environment;
  const env: Record<string, string> = {};
  if (Array.isArray(raw)) {
    for (const entry of raw) {
      const text = String(entry);
      const eq = text.indexOf('=');
      if (eq > 0) env[text.slice(0, eq)] = text.slice(eq + 1);
    }
  } else {
    for (const [key, value] of Object.entries(asRecord(raw))) env[key] = String(value ?? '');
  }
  return env;
}

function commandArgs(service: Yaml): string[] {
  const command = service.command;
  if (Array.isArray(command)) return command.map(String);
  if (typeof command === 'string') return command.split(/\s+/).filter(Boolean);
  return [];
}

function configPathOf(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    let value: string | undefined;
    if (arg.startsWith('--config=')) value = arg.slice('--config='.length);
    else if (arg === '--config') value = args[i + 1];
    if (value !== undefined) return value.replace(/^file:/, '');
  }
  return undefined;
}

function mountsOf(service: Yaml): ServiceFacts['mounts'] {
  const volumes = Array.isArray(service.volumes) ? service.volumes : [];
  return volumes.map((volume) => {
    if (typeof volume === 'string') {
      const [source = '', target = ''] = volume.split(':');
      const named = !source.startsWith('.') && !source.startsWith('/') && !source.startsWith('~');
      return { source, target, named };
    }
    const v = asRecord(volume);
    return {
      source: String(v.source ?? ''),
      target: String(v.target ?? ''),
      named: v.type === 'volume',
    };
  });
}

function portsOf(service: Yaml): ServiceFacts['published'] {
  const ports = Array.isArray(service.ports) ? service.ports : [];
  return ports.map((port) => {
    if (typeof port === 'object' && port !== null) {
      const p = asRecord(port);
      return {
        hostIp: p.host_ip === undefined ? undefined : String(p.host_ip),
        published: String(p.published ?? ''),
        target: String(p.target ?? ''),
      };
    }
    const parts = String(port).split('/')[0]!.split(':');
    if (parts.length === 3) return { hostIp: parts[0], published: parts[1]!, target: parts[2]! };
    if (parts.length === 2) return { hostIp: undefined, published: parts[0]!, target: parts[1]! };
    return { hostIp: undefined, published: parts[0]!, target: parts[0]! };
  });
}

export function serviceFacts(compose: Yaml, name: string): ServiceFacts {
  const service = asRecord(get(compose, 'services', name));
  return {
    name,
    env: serviceEnv(service),
    configPath: configPathOf(commandArgs(service)),
    mounts: mountsOf(service),
    published: portsOf(service),
  };
}

/** The service whose image starts with `imagePrefix`, e.g. `jaegertracing/jaeger:`. */
export function findService(compose: Yaml, imagePrefix: string): string | undefined {
  for (const [name, service] of Object.entries(asRecord(compose.services))) {
    const image = String(asRecord(service).image ?? '');
    if (image.startsWith(imagePrefix) || image.includes(`/${imagePrefix}`)) return name;
  }
  return undefined;
}

export function imageTag(compose: Yaml, service: string): string {
  const image = String(get(compose, 'services', service, 'image') ?? '');
  const at = image.lastIndexOf(':');
  return at < 0 ? 'latest' : image.slice(at + 1);
}

/** The repository-relative host file mounted at `containerPath`, if any. */
function mountedFile(facts: ServiceFacts, containerPath: string): string | undefined {
  const mount = facts.mounts.find(
    (m) => !m.named && normalize(m.target) === normalize(containerPath),
  );
  if (!mount) return undefined;
  return isAbsolute(mount.source) ? mount.source : normalize(mount.source);
}

function isPublished(facts: ServiceFacts, port: string): boolean {
  return facts.published.some((p) => p.target === port);
}

const JAEGER_IMAGE = 'jaegertracing/jaeger:';
const COLLECTOR_IMAGE = 'otel/opentelemetry-collector';

/**
 * Every inconsistency found, as sentences; an empty list means the compose file deploys the
 * configs the tests run.
 */
export function composeProblems(files: ComposeFiles): string[] {
  const problems: string[] = [];
  const { compose, collectorConfig } = files;
  const jaegerName = findService(compose, JAEGER_IMAGE);
  const collectorName = findService(compose, COLLECTOR_IMAGE);
  if (!jaegerName) problems.push(`no service runs an image ${JAEGER_IMAGE}…`);
  if (!collectorName) problems.push(`no service runs an image ${COLLECTOR_IMAGE}…`);
  if (!jaegerName || !collectorName) return problems;

  // The collector loads collector-config.yaml.
  const collector = serviceFacts(compose, collectorName);
  if (!collector.configPath) {
    problems.push(`${collectorName}: command has no --config`);
  } else {
    const source = mountedFile(collector, collector.configPath);
    if (source === undefined) {
      problems.push(
        `${collectorName}: nothing is mounted at ${collector.configPath}, the --config path`,
      );
    } else if (source !== 'collector-config.yaml') {
      problems.push(
        `${collectorName}: ${collector.configPath} is ${source}, not collector-config.yaml`,
      );
    }
  }

  // Jaeger loads a config from this repository, whose endpoints we can resolve.
  const jaeger = serviceFacts(compose, jaegerName);
  let jaegerConfig: Yaml | undefined;
  if (!jaeger.configPath) {
    problems.push(`${jaegerName}: command has no --config`);
  } else {
    const source = mountedFile(jaeger, jaeger.configPath);
    jaegerConfig = source === undefined ? undefined : files.readMounted(source);
    if (!jaegerConfig) {
      problems.push(`${jaegerName}: no repository file is mounted at ${jaeger.configPath}`);
    }
  }

  // Collector receivers listen on all interfaces, on published ports.
  for (const protocol of ['grpc', 'http']) {
    const raw = get(collectorConfig, 'receivers', 'otlp', 'protocols', protocol, 'endpoint');
    if (typeof raw !== 'string') {
      problems.push(`collector-config.yaml: receivers.otlp.protocols.${protocol}.endpoint missing`);
      continue;
    }
    const { host, port } = splitHostPort(expandEnv(raw, collector.env));
    if (host !== '0.0.0.0' && host !== '' && host !== '[::]') {
      problems.push(
        `${collectorName}: OTLP/${protocol} receiver binds ${host}, unreachable from outside the container`,
      );
    }
    if (!isPublished(collector, port)) {
      problems.push(`${collectorName}: OTLP/${protocol} receiver port ${port} is not published`);
    }
  }

  // The collector's exporter reaches Jaeger's OTLP/gRPC receiver by service name.
  const exporters = get(collectorConfig, 'service', 'pipelines', 'traces', 'exporters');
  const otlpExporters = (Array.isArray(exporters) ? exporters.map(String) : []).filter(
    (id) => id === 'otlp' || id.startsWith('otlp/'),
  );
  if (otlpExporters.length === 0) {
    problems.push('collector-config.yaml: the traces pipeline has no otlp exporter');
  }
  const jaegerGrpc = jaegerConfig
    ? get(jaegerConfig, 'receivers', 'otlp', 'protocols', 'grpc', 'endpoint')
    : undefined;
  const jaegerGrpcEndpoint =
    typeof jaegerGrpc === 'string' ? splitHostPort(expandEnv(jaegerGrpc, jaeger.env)) : undefined;
  if (jaegerConfig && !jaegerGrpcEndpoint) {
    problems.push(`${jaegerName}: its config has no receivers.otlp.protocols.grpc.endpoint`);
  }
  if (jaegerGrpcEndpoint && !['0.0.0.0', '', '[::]'].includes(jaegerGrpcEndpoint.host)) {
    problems.push(
      `${jaegerName}: OTLP/gRPC receiver binds ${jaegerGrpcEndpoint.host}, unreachable from ${collectorName}`,
    );
  }
  for (const id of otlpExporters) {
    const raw = get(collectorConfig, 'exporters', id, 'endpoint');
    if (typeof raw !== 'string') {
      problems.push(`collector-config.yaml: exporters.${id}.endpoint missing`);
      continue;
    }
    const { host, port } = splitHostPort(expandEnv(raw, collector.env).replace(/^https?:\/\//, ''));
    if (host !== jaegerName) {
      problems.push(
        `${collectorName}: exporter ${id} sends to host ${host}, not the ${jaegerName} service`,
      );
    }
    if (jaegerGrpcEndpoint && port !== jaegerGrpcEndpoint.port) {
      problems.push(
        `${collectorName}: exporter ${id} sends to port ${port}, ${jaegerName} receives OTLP/gRPC on ${jaegerGrpcEndpoint.port}`,
      );
    }
  }

  // The UI/query port is published.
  if (jaegerConfig) {
    const raw = get(jaegerConfig, 'extensions', 'jaeger_query', 'http', 'endpoint');
    const { host, port } =
      typeof raw === 'string'
        ? splitHostPort(expandEnv(raw, jaeger.env))
        : { host: '', port: '16686' };
    if (!['0.0.0.0', '', '[::]'].includes(host)) {
      problems.push(`${jaegerName}: UI binds ${host}, unreachable through the published port`);
    }
    if (!isPublished(jaeger, port))
      problems.push(`${jaegerName}: UI port ${port} is not published`);

    // Badger data sits on a named volume, or `docker compose down/up` loses it.
    const dirs = get(jaegerConfig, 'extensions', 'jaeger_storage', 'backends');
    for (const [backend, cfg] of Object.entries(asRecord(dirs))) {
      const keys = get(cfg, 'badger', 'directories', 'keys');
      if (typeof keys !== 'string') continue;
      const dir = expandEnv(keys, jaeger.env);
      const onVolume = jaeger.mounts.some(
        (m) => m.named && (dir === m.target || dir.startsWith(join(m.target, '/'))),
      );
      if (!onVolume)
        problems.push(
          `${jaegerName}: badger backend ${backend} stores in ${dir}, not on a named volume`,
        );
    }
  }
  return problems;
}
