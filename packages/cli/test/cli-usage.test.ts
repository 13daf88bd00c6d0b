import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_BIN, runCli } from './support/run-cli.js';

// The bin as users run it: exit codes, where messages go, and that errors say what to do.
describe('agent-audit usage and errors', () => {
  const empty = mkdtempSync(join(tmpdir(), 'cli-usage-'));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it('prints help with the commands and exit codes', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const command of [
      'trail',
      'verify',
      'runs',
      'explain',
      'report',
      'keygen',
      '--store',
      '--json',
      'Exit codes',
    ]) {
      expect(r.stdout).toContain(command);
    }
  });

  it('with no command, shows help on stderr and fails', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Usage: agent-audit');
  });

  it('names an unknown command and suggests the close one', async () => {
    const r = await runCli(['trial', 'abc']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/unknown command 'trial'/);
    expect(r.stderr).toMatch(/Did you mean trail\?/);
  });

  it('names an unknown option; verify exits 3 for usage errors, other commands 1', async () => {
    const verify = await runCli(['verify', '--public-kye', 'x'], { cwd: empty });
    expect(verify.code).toBe(3);
    expect(verify.stderr).toMatch(/unknown option '--public-kye'/);
    expect(verify.stderr).toMatch(/Did you mean --public-key\?/);
    const trail = await runCli(['trail', 'r1', '--bogus'], { cwd: empty });
    expect(trail.code).toBe(1);
    expect(trail.stderr).toMatch(/unknown option '--bogus'/);
  });

  it('asks for the missing run id', async () => {
    const r = await runCli(['trail'], { cwd: empty });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/missing required argument 'run-id'/);
  });

  it.each([[['trail', 'r1']], [['explain', 'r1']], [['runs']], [['verify']]])(
    '%j without a store names the default directory and the fix, exit 3',
    async (args) => {
      const r = await runCli([...args, '--json'], { cwd: empty });
      expect(r.code).toBe(3);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(
        'no audit store at ./.agent-audit — run your agent with registerAgentAudit() first, or pass --store DIR',
      );
    },
  );

  it('names the --store path the user gave', async () => {
    const r = await runCli(['--store', 'nowhere/audit', 'runs'], { cwd: empty });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no audit store at nowhere/audit — check the --store path');
  });

  it('tells a directory that is not a store, and a file, from a store', async () => {
    const notStore = await runCli(['--store', empty, 'trail', 'r1']);
    expect(notStore.code).toBe(3);
    expect(notStore.stderr).toMatch(/is not an audit store \(it has no segments\/ directory\)/);
    const file = await runCli(['--store', CLI_BIN, 'runs']);
    expect(file.code).toBe(3);
    expect(file.stderr).toMatch(/is a file, not an audit store directory/);
  });

  it('verify reaches the library verdict for any existing directory, segments/ or not (F5)', async () => {
    // No anchor binds this path: an empty directory is STORE_EMPTY (2), not a usage error; the
    // anchor-bound case (ANCHOR_BEYOND_END, 1) is attacked in test/redteam (F5).
    const r = await runCli(['--store', empty, 'verify', '--json'], { cwd: empty });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).problems.map((p: { code: string }) => p.code)).toContain(
      'STORE_EMPTY',
    );
    const file = await runCli(['--store', CLI_BIN, 'verify']);
    expect(file.code).toBe(3);
    expect(file.stderr).toMatch(/is a file, not an audit store directory/);
    const none = await runCli(['--store', 'nowhere/audit', 'verify'], { cwd: empty });
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('no audit store at nowhere/audit — check the --store path');
  });

  it('uses AGENT_AUDIT_STORE_DIR when --store is not given', async () => {
    const r = await runCli(['runs'], {
      cwd: empty,
      env: { AGENT_AUDIT_STORE_DIR: '/no/such/store' },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no audit store at /no/such/store');
  });

  it('an empty AGENT_AUDIT_STORE_DIR counts as unset; --store "" is a usage error', async () => {
    const blank = await runCli(['runs'], { cwd: empty, env: { AGENT_AUDIT_STORE_DIR: ' ' } });
    expect(blank.code).toBe(3);
    expect(blank.stderr).toContain('no audit store at ./.agent-audit');
    const option = await runCli(['--store', '', 'runs'], { cwd: empty });
    expect(option.code).toBe(1);
    expect(option.stderr).toContain('invalid --store value "": expected a store directory path');
  });

  it('rejects a bad --since with the accepted forms', async () => {
    const r = await runCli(['runs', '--since', '90days'], { cwd: empty });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /invalid --since value "90days": expected a duration .* 90d.*ISO 8601/,
    );
  });

  it('report requires --html', async () => {
    const r = await runCli(['report', 'r1'], { cwd: empty });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/required option '--html <file>' not specified/);
  });
});
