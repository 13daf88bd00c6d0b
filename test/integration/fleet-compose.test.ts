import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { serviceFacts } from '../support/compose-consistency.js';
import { type FleetFiles, fleetComposeProblems, fleetServices } from '../support/fleet-compose.js';
import { JAEGER_BIN, REPO_ROOT } from '../support/jaeger.js';

// docker-compose.yml's `fleet` profile is for users (`docker compose --profile fleet up`); no
// Docker engine runs here. These tests keep it consistent with the configs the Kafka tests run
// (tools/jaeger/config/kafka-{collector,ingester}.yaml) and with the delivery guarantee.

type Yaml = Record<string, unknown>;
// biome-ignore lint/suspicious/noExplicitAny: test edits reach into untyped YAML.
type Loose = any;

function readYaml(repoPath: string): Yaml {
  return parse(readFileSync(join(REPO_ROOT, repoPath), 'utf8')) as Yaml;
}

function realFiles(): FleetFiles {
  return {
    compose: readYaml('docker-compose.yml'),
    readMounted: (repoPath) =>
      existsSync(join(REPO_ROOT, repoPath)) ? readYaml(repoPath) : undefined,
  };
}

/** The real files, with `edit` applied to a deep copy of the compose file or a mounted config. */
function edited(edit: (compose: Loose, configs: Record<string, Loose>) => void): FleetFiles {
  const real = realFiles();
  const compose = structuredClone(real.compose);
  const configs: Record<string, Loose> = {};
  for (const path of [
    'tools/jaeger/config/kafka-collector.yaml',
    'tools/jaeger/config/kafka-ingester.yaml',
  ]) {
    configs[path] = structuredClone(real.readMounted(path));
  }
  edit(compose, configs);
  return { compose, readMounted: (path) => configs[path] ?? real.readMounted(path) };
}

describe('docker-compose.yml, fleet profile', () => {
  const names = fleetServices(realFiles().compose) as Record<string, string>;

  it('is consistent with the Kafka collector and ingester configs', () => {
    expect(names).toMatchObject({
      kafka: expect.any(String),
      collector: expect.any(String),
      ingester: expect.any(String),
    });
    expect(fleetComposeProblems(realFiles())).toEqual([]);
  });

  it('reports each kind of drift (the rules can fail)', () => {
    const cases: Array<[string, (compose: Loose, configs: Record<string, Loose>) => void, RegExp]> =
      [
        [
          'in-memory sending queue',
          (_c, cfg) => {
            cfg['tools/jaeger/config/kafka-collector.yaml'].exporters.kafka.sending_queue.enabled =
              true;
          },
          /sending_queue\.enabled is not false/,
        ],
        [
          'leader-only acks',
          (_c, cfg) => {
            cfg['tools/jaeger/config/kafka-collector.yaml'].exporters.kafka.producer.required_acks =
              1;
          },
          /required_acks is not -1/,
        ],
        [
          'marking before the write',
          (_c, cfg) => {
            cfg['tools/jaeger/config/kafka-ingester.yaml'].receivers.kafka.message_marking.after =
              false;
          },
          /message_marking\.after is not true/,
        ],
        [
          'wrong broker',
          (c) => {
            c.services[names.collector!].environment.KAFKA_BROKERS = 'localhost:9092';
          },
          /connects to localhost:9092/,
        ],
        [
          'topic mismatch',
          (c) => {
            c.services[names.ingester!].environment.KAFKA_TOPIC = 'other_topic';
          },
          /different topics/,
        ],
        [
          'advertised localhost',
          (c) => {
            c.services[names.kafka!].environment.KAFKA_ADVERTISED_LISTENERS =
              'PLAINTEXT://localhost:9092';
          },
          /advertises host localhost/,
        ],
        [
          'ephemeral Kafka log',
          (c) => {
            c.services[names.kafka!].volumes = [];
          },
          /log dir .* not on a named volume/,
        ],
        [
          'unpublished OTLP port',
          (c) => {
            c.services[names.collector!].ports = ['127.0.0.1:14317:4317'];
          },
          /OTLP\/http receiver port 4318 is not published/,
        ],
        [
          'wrong config mounted',
          (c) => {
            c.services[names.collector!].volumes = [
              './collector-config.yaml:/etc/jaeger/kafka-collector.yaml:ro',
            ];
          },
          /is collector-config\.yaml, not tools\/jaeger\/config\/kafka-collector\.yaml/,
        ],
        [
          'collector on another binary',
          (c) => {
            c.services[names.collector!].image = 'otel/opentelemetry-collector-contrib:0.139.0';
          },
          /fleet-collector: image otel\/opentelemetry-collector-contrib:0\.139\.0, the tests run it on the Jaeger v2 binary/,
        ],
        [
          'ingester on another Jaeger release',
          (c) => {
            c.services[names.ingester!].image = 'jaegertracing/jaeger:2.11.0';
          },
          /fleet-ingester: image jaegertracing\/jaeger:2\.11\.0, the tests run it on the Jaeger v2 binary \(jaegertracing\/jaeger:2\.12\.0/,
        ],
        [
          'Kafka image drift',
          (c) => {
            c.services[names.kafka!].image = 'apache/kafka:3.9.0';
          },
          /image tag 3\.9\.0, the tests run Kafka/,
        ],
        [
          'ephemeral Badger',
          (c) => {
            c.services[names.ingester!].volumes = c.services[names.ingester!].volumes.filter(
              (v: string) => !v.startsWith('fleet-jaeger-data:'),
            );
          },
          /Badger stores in .* not on a named volume/,
        ],
      ];
    for (const [what, edit, expected] of cases) {
      expect(fleetComposeProblems(edited(edit)).join('\n'), what).toMatch(expected);
    }
  });

  it('mounts configs that the Jaeger binary validates with the compose environment', () => {
    const { compose } = realFiles();
    for (const name of [names.collector!, names.ingester!]) {
      const facts = serviceFacts(compose, name);
      const mount = facts.mounts.find((m) => m.target === facts.configPath)!;
      const run = () =>
        execFileSync(JAEGER_BIN, ['validate', '--config', join(REPO_ROOT, mount.source)], {
          env: { PATH: process.env.PATH ?? '', ...facts.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      expect(run, `${name}: ${mount.source}`).not.toThrow();
    }
  });
});
