/**
 * The console's HTTP contract without a browser: loopback by default (Host checked), a
 * non-loopback bind answers nothing without the token printed at start, GET only, a strict CSP
 * on every page, and usage errors for bad options.
 */

import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_IO } from '../src/cli-error.js';
import { CSP, isLoopback, tokenMatches } from '../src/console/console-server.js';
import { type ConsoleProcess, startConsole, waitForIndex } from './support/console-process.js';
import { CLI_BIN, runCli } from './support/run-cli.js';
import { writeStore } from './support/write-store.js';

const CLI_DIST = dirname(CLI_BIN);

let work: string;
let store: string;

/** A raw GET (node's fetch does not let a test set the Host header). */
function get(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A raw GET keeping the body's bytes (a compressed answer). */
function getBytes(
  url: string,
  headers: Record<string, string>,
): Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'console-server-'));
  store = join(work, 'store');
  await writeStore(store, join(work, 'trust'), [{ runId: 'run-a', principal: 'user:1' }]);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('tokenMatches', () => {
  it('accepts the token only, whatever the length of a wrong one', () => {
    const token = 'Zm9vYmFyYmF6cXV4cXV1eHh5enp5';
    expect(tokenMatches(token, token)).toBe(true);
    expect(tokenMatches(`${token}x`, token)).toBe(false);
    expect(tokenMatches(token.slice(0, -1), token)).toBe(false);
    expect(tokenMatches('', token)).toBe(false);
    expect(tokenMatches(undefined, token)).toBe(false);
  });

  it('treats only loopback addresses as loopback', () => {
    expect(['127.0.0.1', '::1', 'localhost', '127.1.2.3'].map(isLoopback)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['0.0.0.0', '::', '192.168.1.4', '10.0.0.1'].map(isLoopback)).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('agent-audit console over HTTP', () => {
  let loopback: ConsoleProcess;
  let open: ConsoleProcess;

  beforeAll(async () => {
    const env = { AGENT_AUDIT_TRUST_DIR: join(work, 'trust') };
    loopback = await startConsole(['--store', store, '--index-dir', join(work, 'index')], {
      cwd: work,
      env,
    });
    open = await startConsole(
      ['--store', store, '--host', '0.0.0.0', '--index-dir', join(work, 'index2')],
      { cwd: work, env },
    );
    await waitForIndex(loopback.url);
  }, 30_000);

  afterAll(async () => {
    await loopback?.stop();
    await open?.stop();
  });

  it('binds 127.0.0.1 by default, prints no token, and refuses a foreign Host header', async () => {
    expect(loopback.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(loopback.stdout()).not.toMatch(/token/);
    const ok = await get(`${loopback.url}/api/runs`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).runs.map((r: { run_id: string }) => r.run_id)).toEqual(['run-a']);
    const port = new URL(loopback.url).port;
    const rebound = await get(`${loopback.url}/api/runs`, { host: `attacker.example:${port}` });
    expect(rebound.status).toBe(421);
  });

  it('serves its app as one bundle (uPlot inside) from /assets, and the run timeline as compact rows', async () => {
    const script = await get(`${loopback.url}/assets/console.js`);
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    // uPlot is bundled in (its class names), not fetched from node_modules or a CDN.
    expect(script.body).toContain('u-legend');
    expect(script.body).not.toMatch(/https?:\/\/(cdn|unpkg|esm\.sh)/);
    const style = await get(`${loopback.url}/assets/console.css`);
    expect(style.status).toBe(200);
    expect(style.body).toContain('.uplot');
    expect((await get(`${loopback.url}/assets/uPlot.iife.min.js`)).status).toBe(404);
    const page = await get(`${loopback.url}/runs/run-a`);
    expect(page.body).toContain('<script src="/assets/console.js" defer></script>');
    const status = JSON.parse((await get(`${loopback.url}/api/status`)).body);
    expect(status.index.ready).toBe(true);
    expect(status.index.stores.map((s: { phase: string }) => s.phase)).toEqual(['ready']);
    const timeline = JSON.parse((await get(`${loopback.url}/api/runs/run-a/timeline`)).body);
    const trail = JSON.parse(
      (await runCli(['trail', 'run-a', '--json', '--store', store], { cwd: work })).stdout,
    ) as { spans: Array<{ span_id: string; name: string; depth: number; events: unknown[] }> };
    expect(timeline.spans).toBe(trail.spans.length);
    expect(
      timeline.rows.map(
        (r: { span_id: string; name: string; depth: number; events: unknown[] }) => [
          r.span_id,
          r.name,
          r.depth,
          r.events.length,
        ],
      ),
    ).toEqual(trail.spans.map((s) => [s.span_id, s.name, s.depth, s.events.length]));
    expect((await get(`${loopback.url}/api/runs/no-such-run/timeline`)).status).toBe(404);
    // Compressed for a browser that accepts it: the same JSON.
    const zipped = await getBytes(`${loopback.url}/api/runs/run-a/timeline`, {
      'accept-encoding': 'gzip',
    });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(zipped.body).toString('utf8'))).toEqual(timeline);
  });

  it('answers every page with the strict CSP and refuses anything but GET', async () => {
    for (const path of [
      '/',
      '/runs/run-a',
      '/dashboards/activity',
      '/dashboards/security',
      '/dashboards/compliance',
      '/nope',
    ]) {
      const answer = await get(`${loopback.url}${path}`);
      expect(answer.headers['content-security-policy'], path).toBe(CSP);
      expect(answer.body, path).not.toMatch(/<script>|<script [^>]*>[^<]|\son[a-z]+=/);
    }
    expect(CSP).toContain("script-src 'self'");
    expect(CSP).not.toContain('unsafe-inline');
    for (const method of ['POST', 'PUT', 'DELETE']) {
      expect((await get(`${loopback.url}/api/runs`, {}, method)).status).toBe(405);
    }
    expect((await get(`${loopback.url}/api/runs/no-such-run`)).status).toBe(404);
    expect((await get(`${loopback.url}/api/runs?since=yesterdayish`)).status).toBe(400);
  });

  it('on a non-loopback address, prints a token once and refuses every request without it', async () => {
    const token = /access token \(shown once; every request needs it\): (\S+)/.exec(
      open.stdout(),
    )?.[1];
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(open.stdout().split(token!).length - 1).toBe(2); // the token line and the URL to open
    const url = open.url.replace('0.0.0.0', '127.0.0.1');
    for (const path of [
      '/',
      '/api/runs',
      '/runs/run-a',
      '/assets/console.js',
      '/api/status',
      '/dashboards/activity',
    ]) {
      expect((await get(`${url}${path}`)).status, path).toBe(401);
    }
    expect((await get(`${url}/api/runs`, { authorization: `Bearer ${token}x` })).status).toBe(401);
    expect((await get(`${url}/api/runs?token=${token}x`)).status).toBe(401);
    expect((await get(`${url}/api/runs`, { cookie: `agent_audit_console=${token}x` })).status).toBe(
      401,
    );
    expect((await get(`${url}/api/runs`, { authorization: `Bearer ${token}` })).status).toBe(200);
    const visit = await get(`${url}/runs/run-a?token=${token}`);
    expect(visit.status).toBe(303);
    expect(visit.headers.location).toBe('/runs/run-a');
    const cookie = String(visit.headers['set-cookie']).split(';')[0]!;
    expect(String(visit.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict/);
    expect((await get(`${url}/runs/run-a`, { cookie })).status).toBe(200);
  });

  it('refuses bad options with a usage error naming the option', async () => {
    const port = await runCli(['console', '--store', store, '--port', 'eighty'], { cwd: work });
    expect(port.code).toBe(1);
    expect(port.stderr).toMatch(/invalid --port value "eighty": expected a TCP port/);
    const jaeger = await runCli(['console', '--store', store, '--jaeger', 'javascript:alert(1)'], {
      cwd: work,
    });
    expect(jaeger.code).toBe(1);
    expect(jaeger.stderr).toMatch(/invalid --jaeger value/);
    const missing = await runCli(['console', '--store', join(work, 'missing')], { cwd: work });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/no audit store at/);
  });

  it('without its app bundle, refuses to start and names the file and the build command', async () => {
    // A copy of the built CLI without dist/console-app, beside the real one (so its packages
    // resolve from the same node_modules): what a checkout that skipped the build step runs.
    const copy = mkdtempSync(join(CLI_DIST, '..', '.test-no-bundle-'));
    try {
      cpSync(CLI_DIST, copy, {
        recursive: true,
        filter: (from) => !from.startsWith(join(CLI_DIST, 'console-app')),
      });
      expect(existsSync(join(copy, 'console-app'))).toBe(false);
      const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
        (resolve) => {
          execFile(
            process.execPath,
            [join(copy, 'bin.js'), 'console', '--store', store, '--port', '0'],
            { cwd: work, timeout: 30_000 },
            (error, stdout, stderr) =>
              resolve({ code: error ? (error.code as number | null) : 0, stdout, stderr }),
          );
        },
      );
      expect(run.code).toBe(EXIT_IO);
      expect(run.stderr).toContain(
        `the console's app bundle is missing (${join(copy, 'console-app', 'console.js')})`,
      );
      expect(run.stderr).toContain(
        'build it with "pnpm build" (or node packages/cli/scripts/build-console.mjs)',
      );
      // Nothing was served: it never printed an address to open.
      expect(`${run.stdout}${run.stderr}`).not.toContain('http://127.0.0.1:');
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
