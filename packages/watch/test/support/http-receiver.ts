import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/**
 * A real loopback HTTP server whose answers a test scripts: `behave(n)` for the n-th request
 * (0-based) returns a status, or 'hang' to never answer (the client's timeout is the fault).
 */
export async function startReceiver(
  behave: (n: number, body: string) => number | 'hang' = () => 200,
): Promise<{ url: string; received: Received[]; accepted: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const accepted: Received[] = [];
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const n = received.length;
      const r = { headers: req.headers, body };
      received.push(r);
      const answer = behave(n, body);
      if (answer === 'hang') {
        hanging.push(res);
        return;
      }
      if (answer >= 200 && answer < 300) accepted.push(r);
      res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'fail');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
