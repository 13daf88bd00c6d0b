import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeHttp, fakeHttp } from './support/fake-http.js';
import { runCli } from './support/run-cli.js';
import { unsafeCharacters } from './support/terminal-safety.js';

// `trail --jaeger` against servers that are broken or hostile in ways a real Jaeger cannot be
// made to be on demand. Each answer is exit 3 with a message naming the server and what went
// wrong, never a stack trace, and nothing on stdout.
describe('trail --jaeger against a broken or hostile server', () => {
  let server: FakeHttp;
  let closedPort: string;

  beforeAll(async () => {
    server = await fakeHttp((req, res) => {
      const path = req.url ?? '';
      const route = path.split('/')[1];
      switch (route) {
        case 'endless': {
          // A body that never ends, no Content-Length: only the byte cap stops it.
          res.writeHead(200, { 'content-type': 'application/json' });
          const chunk = Buffer.alloc(64 * 1024, 0x20);
          const pump = () => {
            while (!res.destroyed && res.write(chunk)) {
              // keep the socket full
            }
            if (!res.destroyed) res.once('drain', pump);
          };
          pump();
          return;
        }
        case 'declared':
          res.writeHead(200, {
            'content-type': 'application/json',
            'content-length': '1000000000000',
          });
          res.write('{"data":[');
          return;
        case 'trickle': {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"data":[');
          const timer = setInterval(() => res.write(' '), 100);
          res.on('close', () => clearInterval(timer));
          return;
        }
        case 'silent':
          return; // accepts the connection, never answers
        case 'html':
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<html><body>Welcome to nginx\x1b[2J</body></html>');
          return;
        case 'shape':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ data: 'not-a-list' }));
          return;
        case 'bad-span':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify(
              path.includes('/api/services')
                ? { data: ['svc'] }
                : {
                    data: [
                      {
                        traceID: 'ab',
                        processes: { p1: { serviceName: 'svc' } },
                        spans: [
                          { traceID: 'ab', spanID: 'cd', operationName: 'x', startTime: 'soon' },
                        ],
                      },
                    ],
                  },
            ),
          );
          return;
        case 'jaeger-error':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({ data: null, errors: [{ code: 400, msg: 'bad tags\x1b]0;x\x07' }] }),
          );
          return;
        case 'error500':
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('boom\x1b[2J\u202e');
          return;
        case 'loop':
          res.writeHead(302, { location: path });
          res.end();
          return;
        case 'hops': {
          const n = Number(path.split('/')[2] ?? '0');
          res.writeHead(307, { location: `/hops/${Number.isFinite(n) ? n + 1 : 1}/api/services` });
          res.end();
          return;
        }
        case 'ftp':
          res.writeHead(301, { location: 'ftp://example.com/' });
          res.end();
          return;
        default:
          res.writeHead(404);
          res.end();
      }
    });
    const doomed = await fakeHttp(() => {});
    closedPort = new URL(doomed.url).port;
    await doomed.close();
  });
  afterAll(() => server?.close());

  async function fault(base: string, ...extra: string[]) {
    const r = await runCli(['trail', 'run-1', '--jaeger', base, ...extra]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toMatch(/\n\s+at |unexpected error/);
    expect(unsafeCharacters(r.stderr)).toEqual([]);
    return r.stderr;
  }

  it('a body that never ends: reading stops at --jaeger-max-bytes', async () => {
    const stderr = await fault(`${server.url}/endless`, '--jaeger-max-bytes', '1MiB');
    expect(stderr).toContain(`Jaeger at ${server.url} sent more than 1.0 MB`);
    expect(stderr).toContain('GET /endless/api/services');
    expect(stderr).toContain('--jaeger-max-bytes');
  });

  it('the default cap is 64 MiB', async () => {
    const stderr = await fault(`${server.url}/endless`);
    expect(stderr).toContain('sent more than 67.1 MB (67108864 bytes)');
  });

  it('a declared length over the cap is refused before reading', async () => {
    const stderr = await fault(`${server.url}/declared`, '--jaeger-max-bytes', '1000');
    expect(stderr).toContain('(Content-Length 1000000000000)');
  });

  it('a trickling body: the timeout names the body, the time and what arrived', async () => {
    const stderr = await fault(`${server.url}/trickle`, '--jaeger-timeout', '1s');
    expect(stderr).toMatch(
      /Jaeger at http:\/\/127\.0\.0\.1:\d+ timed out after 1s reading the response body of GET \/trickle\/api\/services \(\d+ B received\)/,
    );
    expect(stderr).toContain('--jaeger-timeout');
  });

  it('a server that never answers: the timeout names the headers', async () => {
    const stderr = await fault(`${server.url}/silent`, '--jaeger-timeout', '1s');
    expect(stderr).toMatch(
      /timed out after 1s waiting for the response headers of GET \/silent\/api\/services/,
    );
  });

  it('not JSON', async () => {
    const stderr = await fault(`${server.url}/html`);
    expect(stderr).toContain(
      `Jaeger at ${server.url} did not answer JSON to GET /html/api/services (text/html`,
    );
    expect(stderr).toContain('\\x1b[2J');
  });

  it('JSON of the wrong shape names the field', async () => {
    expect(await fault(`${server.url}/shape`)).toContain(
      'unexpected shape: data is the string "not-a-list", expected an array',
    );
    expect(await fault(`${server.url}/bad-span`)).toContain(
      'answered GET /bad-span/api/traces for service "svc" with JSON of an unexpected shape: data[0].spans[0].startTime is the string "soon", expected a non-negative number of microseconds',
    );
  });

  it('an error Jaeger reports in its answer', async () => {
    expect(await fault(`${server.url}/jaeger-error`)).toContain(
      'Jaeger reported an error: bad tags\\x1b]0;x\\x07',
    );
  });

  it('500', async () => {
    expect(await fault(`${server.url}/error500`)).toContain(
      'answered 500 Internal Server Error to GET /error500/api/services: boom\\x1b[2J\\u202e',
    );
  });

  it('connection refused', async () => {
    const stderr = await fault(`http://127.0.0.1:${closedPort}`);
    expect(stderr).toContain(`cannot reach Jaeger at http://127.0.0.1:${closedPort} (ECONNREFUSED`);
  });

  it('a redirect loop, too many redirects, and a redirect off http', async () => {
    expect(await fault(`${server.url}/loop`)).toMatch(
      /redirected in a loop: http:\/\/127\.0\.0\.1:\d+\/loop\/api\/services → http:\/\/127\.0\.0\.1:\d+\/loop\/api\/services/,
    );
    expect(await fault(`${server.url}/hops/0`)).toContain('redirected more than 5 times');
    expect(await fault(`${server.url}/ftp`)).toContain(
      '"ftp://example.com/", which is not an http(s) URL',
    );
  });

  it('bad limits are usage errors', async () => {
    const timeout = await runCli([
      'trail',
      'r',
      '--jaeger',
      server.url,
      '--jaeger-timeout',
      'soon',
    ]);
    expect(timeout.code).toBe(1);
    expect(timeout.stderr).toContain('invalid --jaeger-timeout value "soon"');
    const bytes = await runCli([
      'trail',
      'r',
      '--jaeger',
      server.url,
      '--jaeger-max-bytes',
      '12XB',
    ]);
    expect(bytes.code).toBe(1);
    expect(bytes.stderr).toContain('invalid --jaeger-max-bytes value "12XB"');
  });
});
