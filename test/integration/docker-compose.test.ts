import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  type ComposeFiles,
  composeProblems,
  findService,
  imageTag,
  serviceFacts,
} from '../support/compose-consistency.js';
import { COLLECTOR_CONFIG, JAEGER_BIN, REPO_ROOT } from '../support/jaeger.js';

// docker-compose.yml is for users; no Docker engine runs here. These tests keep it consistent
// with collector-config.yaml and the Jaeger config it mounts, and keep its images at the
// versions the tests run from source.

type Yaml = Record<string, unknown>;

function readYaml(repoPath: string): Yaml {
  return parse(readFileSync(join(REPO_ROOT, repoPath), 'utf8')) as Yaml;
}

function realFiles(): ComposeFiles {
  return {
    compose: readYaml('docker-compose.yml'),
    collectorConfig: readYaml('collector-config.yaml'),
    readMounted: (repoPath) =>
      existsSync(join(REPO_ROOT, repoPath)) ? readYaml(repoPath) : undefined,
  };
}

/** The real files with one edit applied to a deep copy. */
function edited(edit: (files: { compose: Yaml; collectorConfig: Yaml }) => void): ComposeFiles {
  const files = realFiles();
  const copy = {
    compose: structuredClone(files.compose),
    collectorConfig: structuredClone(files.collectorConfig),
  };
  edit(copy);
  return { ...files, ...copy };
}

// biome-ignore lint/suspicious/noExplicitAny: test edits reach into untyped YAML.
type Loose = any;

describe('docker-compose.yml', () => {
  it('is consistent with collector-config.yaml and the Jaeger config it mounts', () => {
    expect(composeProblems(realFiles())).toEqual([]);
  });

  it('reports each kind of drift (the rules above can fail)', () => {
    const jaeger = findService(realFiles().compose, 'jaegertracing/jaeger:')!;
    const collector = findService(realFiles().compose, 'otel/opentelemetry-collector')!;

    const renamed = edited(({ compose }) => {
      (compose as Loose).services[collector].environment.JAEGER_OTLP_ENDPOINT = 'tracing:4317';
    });
    expect(composeProblems(renamed).join('\n')).toMatch(/sends to host tracing, not the/);

    // Without the compose variable, the config's own default must still point at the service.
    const defaulted = edited(({ compose, collectorConfig }) => {
      delete (compose as Loose).services[collector].environment.JAEGER_OTLP_ENDPOINT;
      (collectorConfig as Loose).exporters['otlp/jaeger'].endpoint =
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the collector's env syntax
        '${env:JAEGER_OTLP_ENDPOINT:-localhost:4317}';
    });
    expect(composeProblems(defaulted).join('\n')).toMatch(/sends to host localhost, not the/);

    const wrongPort = edited(({ compose }) => {
      (compose as Loose).services[collector].environment.JAEGER_OTLP_ENDPOINT = `${jaeger}:4318`;
    });
    expect(composeProblems(wrongPort).join('\n')).toMatch(/sends to port 4318.*OTLP\/gRPC on 4317/);

    const unpublished = edited(({ compose }) => {
      (compose as Loose).services[collector].ports = ['127.0.0.1:4317:4317'];
    });
    expect(composeProblems(unpublished).join('\n')).toMatch(
      /OTLP\/http receiver port 4318 is not published/,
    );

    const noUi = edited(({ compose }) => {
      (compose as Loose).services[jaeger].ports = [];
    });
    expect(composeProblems(noUi).join('\n')).toMatch(/UI port 16686 is not published/);

    const wrongMount = edited(({ compose }) => {
      (compose as Loose).services[collector].command = [
        '--config=/etc/otelcol-contrib/config.yaml',
      ];
    });
    expect(composeProblems(wrongMount).join('\n')).toMatch(
      /nothing is mounted at \/etc\/otelcol-contrib\/config.yaml/,
    );

    const loopback = edited(({ compose }) => {
      delete (compose as Loose).services[jaeger].environment.JAEGER_LISTEN_HOST;
    });
    expect(composeProblems(loopback).join('\n')).toMatch(/binds 127\.0\.0\.1, unreachable/);

    const ephemeral = edited(({ compose }) => {
      (compose as Loose).services[jaeger].volumes = (compose as Loose).services[
        jaeger
      ].volumes.filter((v: string) => !v.startsWith('jaeger-data:'));
    });
    expect(composeProblems(ephemeral).join('\n')).toMatch(/not on a named volume/);
  });

  it('runs the Jaeger release the tests build from the pinned module', () => {
    const { compose } = realFiles();
    const jaeger = findService(compose, 'jaegertracing/jaeger:')!;
    // build.mjs stamps the release version (v2.x) into the binary it builds from go.mod's pin.
    const version = JSON.parse(
      execFileSync(JAEGER_BIN, ['version'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    ) as { gitVersion: string };
    expect(version.gitVersion).toMatch(/^v2\.\d+\.\d+$/);
    expect(`v${imageTag(compose, jaeger)}`).toBe(version.gitVersion);
  });

  it('runs the collector release that the Jaeger binary embeds', () => {
    const { compose } = realFiles();
    const collector = findService(compose, 'otel/opentelemetry-collector')!;
    const goMod = readFileSync(join(REPO_ROOT, 'tools/jaeger/go.mod'), 'utf8');
    const contrib =
      /opentelemetry-collector-contrib\/processor\/attributesprocessor (v[\d.]+)/.exec(goMod);
    expect(contrib?.[1]).toBeDefined();
    expect(`v${imageTag(compose, collector)}`).toBe(contrib![1]);
  });

  it('mounts configs that the Jaeger binary validates with the compose environment', () => {
    const { compose } = realFiles();
    for (const name of [
      findService(compose, 'jaegertracing/jaeger:')!,
      findService(compose, 'otel/opentelemetry-collector')!,
    ]) {
      const facts = serviceFacts(compose, name);
      const mount = facts.mounts.find((m) => m.target === facts.configPath)!;
      const hostPath = join(REPO_ROOT, mount.source);
      // `validate` builds every component from the config without opening ports: the config
      // parses, every component exists in this distribution, and every setting is accepted.
      const run = () =>
        execFileSync(JAEGER_BIN, ['validate', '--config', hostPath], {
          env: { PATH: process.env.PATH ?? '', ...facts.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      expect(run, `${name}: ${mount.source}`).not.toThrow();
    }
    expect(existsSync(COLLECTOR_CONFIG)).toBe(true);
  });
});
