// Rules that keep docker-compose.yml's archive S3 server (the `fleet` profile's versitygw) usable
// for what docs/deployment.md promises: the release tools/versitygw pins (what the archive tests
// run), a posix backend with a versioning directory (Object Lock needs versioning), data and
// versions on a named volume, its S3 port published, and credentials taken from the
// environment rather than written in the file. Used by test/integration/archive-compose.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serviceFacts } from './compose-consistency.js';
import { REPO_ROOT } from './jaeger.js';

type Yaml = Record<string, unknown>;

const IMAGE = 'versity/versitygw:';

function asRecord(value: unknown): Yaml {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Yaml)
    : {};
}

/** The versitygw release tools/versitygw/go.mod pins (what the tests run). */
export function pinnedVersitygwVersion(): string {
  const mod = readFileSync(join(REPO_ROOT, 'tools/versitygw/go.mod'), 'utf8');
  const match = /github\.com\/versity\/versitygw (v[^\s]+)/.exec(mod);
  if (!match) throw new Error('tools/versitygw/go.mod: no github.com/versity/versitygw version');
  return match[1]!;
}

/** The fleet profile's service running versitygw. */
export function archiveService(compose: Yaml): string | undefined {
  for (const [name, service] of Object.entries(asRecord(compose.services))) {
    const profiles = asRecord(service).profiles;
    if (!Array.isArray(profiles) || !profiles.includes('fleet')) continue;
    if (String(asRecord(service).image ?? '').startsWith(IMAGE)) return name;
  }
  return undefined;
}

export interface VersitygwCommand {
  /** The arguments after the binary: global flags, then `posix`, its flags and the data dir. */
  args: string[];
  port: string | undefined;
  versioningDir: string | undefined;
  dataDir: string | undefined;
}

/** The versitygw command line of the service (a `sh -c` script's `exec …versitygw …`). */
export function versitygwCommand(service: Yaml): VersitygwCommand | undefined {
  const command = service.command;
  const text = Array.isArray(command) ? command.join(' ') : String(command ?? '');
  const match = /(?:^|\s)(?:exec\s+)?\S*versitygw\s+([^;&|]*)$/.exec(text.trim());
  if (!match) return undefined;
  const args = match[1]!.trim().split(/\s+/);
  const flag = (name: string) => {
    const at = args.indexOf(name);
    return at < 0 ? undefined : args[at + 1];
  };
  const posix = args.indexOf('posix');
  const rest =
    posix < 0
      ? []
      : args
          .slice(posix + 1)
          .filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--'));
  return {
    args,
    port: flag('--port'),
    versioningDir: flag('--versioning-dir'),
    dataDir: rest.at(-1),
  };
}

export function archiveComposeProblems(compose: Yaml): string[] {
  const problems: string[] = [];
  const name = archiveService(compose);
  if (!name) return [`fleet profile: no service runs an image ${IMAGE}…`];
  const service = asRecord(asRecord(compose.services)[name]);
  const tag = String(service.image).slice(IMAGE.length);
  const pinned = pinnedVersitygwVersion();
  if (tag !== pinned) {
    problems.push(
      `${name}: image tag ${tag}, the tests run versitygw ${pinned} (tools/versitygw/go.mod)`,
    );
  }
  const cmd = versitygwCommand(service);
  if (!cmd) return [...problems, `${name}: command does not run versitygw`];
  if (!cmd.args.includes('posix'))
    problems.push(`${name}: versitygw does not run the posix backend`);
  if (!cmd.versioningDir) {
    problems.push(`${name}: posix backend without --versioning-dir: Object Lock needs versioning`);
  }
  const facts = serviceFacts(compose, name);
  const onNamedVolume = (dir: string | undefined) =>
    dir !== undefined &&
    facts.mounts.some((m) => m.named && (dir === m.target || dir.startsWith(`${m.target}/`)));
  for (const [what, dir] of [
    ['objects', cmd.dataDir],
    ['versions', cmd.versioningDir],
  ] as const) {
    if (!onNamedVolume(dir)) {
      problems.push(
        `${name}: ${what} in ${dir ?? '(unset)'}, not on a named volume: lost with the container`,
      );
    }
  }
  const port = cmd.port?.split(':').at(-1);
  if (!port) problems.push(`${name}: versitygw has no --port`);
  else if (!facts.published.some((p) => p.target === port)) {
    problems.push(`${name}: S3 port ${port} is not published`);
  }
  for (const key of ['ROOT_ACCESS_KEY_ID', 'ROOT_SECRET_ACCESS_KEY']) {
    const raw = String(asRecord(service.environment)[key] ?? '');
    if (!/^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$/.test(raw)) {
      problems.push(
        `${name}: ${key} is not taken from the environment (\${VAR}): a credential written in the file`,
      );
    }
  }
  return problems;
}
