// A TCP port nothing listens on, for a test that needs a refused connection or a port to hand a
// child process: bound to port 0, read, released.

import { createServer, type AddressInfo } from 'node:net';

/** A free port on `host` (every interface when undefined). */
export async function unusedPort(host?: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
