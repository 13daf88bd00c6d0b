#!/usr/bin/env node
// Installs the pinned Apache Kafka broker (4.1.1, KRaft) that the fleet tests and the Kafka
// bench arm start: the jars of org.apache.kafka:kafka_2.13 and their runtime dependencies (plus
// a log4j2 binding) from Maven Central into tools/kafka/libs/, with Maven's own client
// (`mvn dependency:copy-dependencies` on tools/kafka/pom.xml, which holds the pins). The broker
// runs on the machine's Java (17 or later): `java -cp 'tools/kafka/libs/*' kafka.Kafka …`.
//
// Idempotent: a no-op when libs/ matches the pom (a stamp file records the pom's hash).
// Node builtins only. Usage: node tools/kafka/install.mjs [--quiet] [--force]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KAFKA_VERSION = '4.1.1';
const here = dirname(fileURLToPath(import.meta.url));
const pom = join(here, 'pom.xml');
const libs = join(here, 'libs');
const stamp = join(libs, '.installed');
const quiet = process.argv.includes('--quiet');
const force = process.argv.includes('--force');
const say = (msg) => {
  if (!quiet) process.stderr.write(`kafka: ${msg}\n`);
};
function fail(msg) {
  process.stderr.write(`kafka: ${msg}\n`);
  process.exit(1);
}

function checkJava() {
  // java prints its version on stderr.
  const version = execFileSync('sh', ['-c', 'java -version 2>&1 || true'], { encoding: 'utf8' });
  const match = /version "(\d+)/.exec(version);
  if (!match) {
    fail(
      'no `java` on PATH: Kafka 4 needs Java 17 or later (Debian: `apt-get install openjdk-17-jre-headless`)',
    );
  }
  if (Number(match[1]) < 17) {
    fail(
      `java on PATH is version ${match[1]}: Kafka 4 needs Java 17 or later (Debian: \`apt-get install openjdk-17-jre-headless\`)`,
    );
  }
}

const pomHash = createHash('sha256').update(readFileSync(pom)).digest('hex');
if (!force && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === pomHash) {
  say(`Kafka ${KAFKA_VERSION} already in ${libs}`);
  process.exit(0);
}
checkJava();
try {
  execFileSync('mvn', ['-v'], { stdio: 'ignore' });
} catch {
  fail('no `mvn` on PATH: the Kafka jars are fetched with Maven (Debian: `apt-get install maven`)');
}
rmSync(libs, { recursive: true, force: true });
say(`fetching Kafka ${KAFKA_VERSION} and its runtime dependencies with Maven into ${libs}`);
try {
  execFileSync(
    'mvn',
    [
      '-q',
      '-B',
      '-f',
      pom,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${libs}`,
    ],
    { stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit' },
  );
} catch (err) {
  rmSync(libs, { recursive: true, force: true });
  fail(
    `\`mvn dependency:copy-dependencies\` on ${pom} failed (${err instanceof Error ? err.message : err}): ` +
      'check that Maven Central is reachable (or ~/.m2/settings.xml names a mirror), then run `node tools/kafka/install.mjs` again',
  );
}
if (!readdirSync(libs).includes(`kafka_2.13-${KAFKA_VERSION}.jar`)) {
  fail(
    `kafka_2.13-${KAFKA_VERSION}.jar is missing from ${libs} after Maven ran: run \`node tools/kafka/install.mjs --force\``,
  );
}
writeFileSync(stamp, `${pomHash}\n`);
say(`installed Kafka ${KAFKA_VERSION} in ${libs}`);
