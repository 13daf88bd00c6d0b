// Independent attacks on what the CLI answers and prints (issue 9 red team), from the contract
// only (docs/store-format.md "Query index", packages/cli/README.md "What it prints"):
// - index.sqlite is a cache in the attacker's reach: `trail` / `runs` must answer what the
//   segments say, before and after a writer restart;
// - values in the store are attacker-controlled: nothing printed may drive the terminal.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { AuditStore } from '@agent-audit/store';
import { describe, expect, it } from 'vitest';
import {
  appendForged,
  cli,
  type Lab,
  makeLab,
  newestSegment,
  ROOT,
  rechain,
  restart,
  verify,
} from './redteam-kit.js';

// better-sqlite3 is the store package's dependency; load it from there (pnpm is strict).
const Database = createRequire(path.join(ROOT, 'packages/store/package.json'))(
  'better-sqlite3',
) as new (
  file: string,
) => { exec(sql: string): void; close(): void };

function spanStart(run: string, spanId: string, extra: Record<string, string> = {}) {
  return {
    type: 'span.start' as const,
    tags: { run, agent: 'agent-a', principal: 'user:1', tool: 'search', span: spanId, ...extra },
    payload: {
      traceId: 'a'.repeat(32),
      spanId,
      name: 'execute_tool search',
      startTimeUnixNano: '1700000000000000000',
      attributes: [
        { key: 'workflow.run_id', value: { stringValue: run } },
        { key: 'gen_ai.tool.name', value: { stringValue: 'search' } },
      ],
    },
  };
}

async function twoRuns(): Promise<{ lab: Lab; dir: string }> {
  const lab = makeLab();
  const dir = lab.dir('a');
  const store = AuditStore.open({ dir, trustDir: lab.trust });
  await store.append(spanStart('r1', '1'.repeat(16)));
  await store.append(spanStart('r2', '2'.repeat(16), { principal: 'user:2' }));
  await store.append(spanStart('r1', '3'.repeat(16)));
  await store.close();
  return { lab, dir };
}

function answers(lab: Lab, dir: string) {
  const strip = (s: string) => s.replace(/"store": "[^"]*"/g, '');
  return {
    runs: cli(lab, ['runs', '--store', dir, '--json']).stdout,
    byPrincipal: cli(lab, ['runs', '--store', dir, '--principal', 'user:1', '--json']).stdout,
    trail1: strip(cli(lab, ['trail', 'r1', '--store', dir, '--json']).stdout),
    trail2: strip(cli(lab, ['trail', 'r2', '--store', dir, '--json']).stdout),
    ghost: cli(lab, ['trail', 'ghost', '--store', dir, '--json']).exit,
  };
}

function tamperIndex(dir: string, sql: string): void {
  const db = new Database(path.join(dir, 'index.sqlite'));
  db.exec(sql);
  db.close();
}

const INDEX_ATTACKS: [string, string][] = [
  ['a row of run r2 re-tagged as r1', `UPDATE records SET run = 'r1' WHERE run = 'r2'`],
  ['the rows of run r1 deleted', `DELETE FROM records WHERE run = 'r1'`],
  ['principal of run r1 changed', `UPDATE records SET principal = 'user:9' WHERE run = 'r1'`],
  [
    'r1 rows pointed at r2 record bytes',
    `UPDATE records SET offset = (SELECT offset FROM records WHERE run = 'r2'), length = (SELECT length FROM records WHERE run = 'r2') WHERE run = 'r1'`,
  ],
  [
    'a ghost run injected',
    `INSERT INTO records SELECT seq + 1000, segment, offset, length, hash, type, time, 'ghost', principal, agent, tool, tenant, span, parent, status, trace FROM records WHERE run = 'r2'`,
  ],
  ['every row removed', `DELETE FROM records`],
];

describe('index.sqlite tampering: answers come from the segments, before and after a restart', () => {
  for (const [name, sql] of INDEX_ATTACKS) {
    it(name, async () => {
      const { lab, dir } = await twoRuns();
      const truth = answers(lab, dir); // builds the index from the segments
      expect(truth.ghost).toBe(4);
      expect(JSON.parse(truth.runs)).toHaveLength(2);
      tamperIndex(dir, sql);
      expect(answers(lab, dir)).toEqual(truth);
      expect(truth.trail1).toContain('1111111111111111');
      tamperIndex(dir, sql); // the reader rebuilt it: tamper again, then restart the writer
      expect(await restart(lab, dir)).toBe('opened');
      expect(answers(lab, dir)).toEqual(truth);
      expect(verify(lab, dir).exit).toBe(0); // the index is not evidence
    });
  }

  it('index replaced by the index of another store', async () => {
    const { lab, dir } = await twoRuns();
    const truth = answers(lab, dir);
    const other = makeLab();
    const b = other.dir('b');
    const store = AuditStore.open({ dir: b, trustDir: other.trust });
    await store.append(spanStart('ghost', '9'.repeat(16)));
    await store.close();
    cli(other, ['reindex', '--store', b]);
    fs.copyFileSync(path.join(b, 'index.sqlite'), path.join(dir, 'index.sqlite'));
    expect(answers(lab, dir)).toEqual(truth);
  });
});

// Escapes that would drive a terminal: ESC (CSI, OSC 8 hyperlink, OSC 0 title), BEL, one-byte
// CSI (U+009B), bidi override/isolate, line separator, CR (overwrite a line).
const HOSTILE =
  'x\u001b]8;;http://evil.example\u0007click\u001b]8;;\u0007\u001b[2J\u009b31m\u202eevil\u2066\u2028\rOK';
// Raw terminal controls (newline and tab excepted: the output's own lines and columns).
function rawControl(text: string): number | undefined {
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if (c === 0x0a || c === 0x09) continue;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x061c || c === 0x200e || c === 0x200f)
      return c;
    if (
      (c >= 0x202a && c <= 0x202e) ||
      (c >= 0x2066 && c <= 0x2069) ||
      c === 0x2028 ||
      c === 0x2029
    )
      return c;
    if (c >= 0xd800 && c <= 0xdfff) return c;
  }
  return undefined;
}

function printable(out: { stdout: string; stderr: string }, what: string): void {
  const hit = rawControl(out.stdout) ?? rawControl(out.stderr);
  if (hit !== undefined)
    throw new Error(`${what} printed a raw U+${hit.toString(16).padStart(4, '0')}`);
}

describe('hostile strings: nothing printed can drive the terminal', () => {
  it('trail, runs, explain, report, status print tag and attribute values escaped', async () => {
    const lab = makeLab();
    const dir = lab.dir('a');
    const store = AuditStore.open({ dir, trustDir: lab.trust });
    const s = spanStart(HOSTILE, '1'.repeat(16), {
      agent: HOSTILE,
      principal: HOSTILE,
      tool: HOSTILE,
      tenant: HOSTILE,
    });
    s.payload.name = HOSTILE;
    s.payload.attributes.push({ key: HOSTILE, value: { stringValue: HOSTILE } });
    await store.append(s);
    await store.close();
    expect(rawControl(HOSTILE)).toBeDefined(); // the filter under test can fail
    const shown = cli(lab, ['trail', HOSTILE, '--store', dir, '--wide']);
    expect(shown.exit).toBe(0); // the hostile run is found and printed, escaped
    expect(shown.stdout).toContain('\\x1b]8;;http://evil.example');
    for (const wide of [[], ['--wide']]) {
      printable(cli(lab, ['runs', '--store', dir, ...wide]), 'runs');
      printable(cli(lab, ['runs', '--store', dir, '--actions', ...wide]), 'runs --actions');
      printable(cli(lab, ['trail', HOSTILE, '--store', dir, ...wide]), 'trail');
      printable(cli(lab, ['explain', HOSTILE, '--store', dir, ...wide]), 'explain');
    }
    printable(cli(lab, ['runs', '--store', dir, '--json']), 'runs --json');
    printable(cli(lab, ['trail', HOSTILE, '--store', dir, '--json']), 'trail --json');
    printable(cli(lab, ['trail', `${HOSTILE}nope`, '--store', dir]), 'trail (no such run)');
    printable(cli(lab, ['status', '--store', dir]), 'status');
    const html = path.join(lab.root, 'r.html');
    printable(cli(lab, ['report', HOSTILE, '--store', dir, '--html', html]), 'report');
    const page = fs.readFileSync(html, 'utf8');
    expect(page).not.toMatch(/<[^>]*evil\.example/);
    expect(rawControl(page)).toBeUndefined();
  });

  it('verify prints a forged origin, recovery file name and lock content escaped', async () => {
    const lab = makeLab();
    const dir = lab.dir('a');
    const store = AuditStore.open({ dir, trustDir: lab.trust });
    await store.append({ type: 'event', tags: { run: 'r1' }, payload: {} });
    await store.close();
    appendForged(dir, [
      {
        type: 'recovery',
        payload: {
          file: `recovered/${HOSTILE}`,
          length: 1,
          offset: 0,
          reason: HOSTILE,
          segment: 1,
          sha256: HOSTILE,
        },
      },
      { type: HOSTILE, payload: {} },
    ]);
    fs.writeFileSync(path.join(dir, 'store.lock'), `${HOSTILE}\n`);
    printable(cli(lab, ['verify', '--store', dir]), 'verify (forged recovery)');
    printable(cli(lab, ['verify', '--store', dir, '--json']), 'verify --json');
    printable(cli(lab, ['status', '--store', dir]), 'status (hostile lock)');
    rechain(newestSegment(dir), (recs) =>
      recs.map((r) =>
        r.type === 'segment.open'
          ? { ...r, payload: { ...(r.payload as object), origin: HOSTILE } }
          : r,
      ),
    );
    printable(cli(lab, ['verify', '--store', dir]), 'verify (hostile origin)');
    printable(cli(lab, ['verify', '--store', dir, '--origin', HOSTILE]), 'verify --origin hostile');
  });
});
