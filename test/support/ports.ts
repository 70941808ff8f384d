// Ports for test servers: free ones to hand to a child process, closed ones to be refused by, and listening on port 0.
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';

/**
 * A 127.0.0.1 port nothing listens on right now (bound, then released). A child process told to
 * listen on it may still lose it to another process: callers retry on "address already in use".
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  const { port } = await listen(server);
  await new Promise<void>((resolve) => server.close(() => {
    resolve();
  }));
  return port;
}

/** A loopback `127.0.0.1:PORT` nothing listens on (bound, then released): connecting is refused. */
export async function closedHost(): Promise<string> {
  return `127.0.0.1:${String(await freePort())}`;
}

/** Starts `server` (net, http or https) on a port of 127.0.0.1 the system picks; rejects with the listen error. */
export async function listen(server: Server): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

/** The port of a `host:port` (IPv4, name or bracketed IPv6). */
export function portOf(host: string): string {
  return host.slice(host.lastIndexOf(':') + 1);
}
