import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeHttp {
  url: string;
  close(): Promise<void>;
}

/**
 * A local HTTP server for the faults a real Jaeger or collector cannot produce on demand
 * (a body that never ends, a trickle, a redirect loop, hostile bytes). Open responses are
 * ended on close, so a test never leaves a socket behind.
 */
export async function fakeHttp(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<FakeHttp> {
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const res of open) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
