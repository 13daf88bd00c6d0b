import { createServer, type Server } from 'node:net';

/**
 * Finds `count` distinct free TCP ports on 127.0.0.1. All listeners are held open until every
 * port is known, so the ports differ from each other; another process can still take one before
 * the caller binds it, which callers handle by retrying with new ports.
 */
export async function getFreePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      const address = server.address();
      if (address === null || typeof address === 'string') {
        throw new Error(`free-port: unexpected address ${String(address)}`);
      }
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(
      servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
  }
}
