import { createServer } from 'node:net';

/**
 * Ports already handed out by this process. The OS may give the same ephemeral port to two
 * consecutive `listen(0)` calls once the first socket is closed, so a test asking for a gRPC and an
 * HTTP port could get one port twice (and its service would fail with EADDRINUSE).
 */
const handedOut = new Set<number>();
const MAX_REMEMBERED = 4096;
const MAX_TRIES = 50;

function probe(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: could not read the listening address'));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/**
 * Returns a TCP port on 127.0.0.1 that was free at the time of the call and that no earlier call in
 * this process returned.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < MAX_TRIES; i++) {
    const port = await probe(host);
    if (handedOut.has(port)) continue;
    if (handedOut.size >= MAX_REMEMBERED) handedOut.delete(handedOut.values().next().value as number);
    handedOut.add(port);
    return port;
  }
  throw new Error(`freePort: the OS offered only ports already handed out (${MAX_TRIES} tries)`);
}
