// A TCP proxy a test controls, to cut one client's connection without touching the server: it
// forwards every connection to a target port, and on cut() resets all of them and refuses new
// ones (accepted, then reset at once) until restore().

import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export class TcpProxy {
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  #refusing = false;
  #accepted = 0;
  #refused = 0;

  private constructor(targetPort: number, targetHost: string) {
    this.#server = createServer((client) => this.#accept(client, targetPort, targetHost));
  }

  /** A proxy listening on a free port of 127.0.0.1, forwarding to `targetHost:targetPort`. */
  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort, targetHost);
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Connections forwarded so far, and connections refused while cut. */
  get stats(): { accepted: number; refused: number; open: number } {
    return { accepted: this.#accepted, refused: this.#refused, open: this.#pairs.size };
  }

  /** Resets every forwarded connection (both sides) and refuses new ones until restore(). */
  cut(): void {
    this.#refusing = true;
    for (const pair of this.#pairs) for (const socket of pair) socket.resetAndDestroy();
    this.#pairs.clear();
  }

  restore(): void {
    this.#refusing = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket, targetPort: number, targetHost: string): void {
    client.on('error', () => {});
    if (this.#refusing) {
      this.#refused += 1;
      client.resetAndDestroy();
      return;
    }
    this.#accepted += 1;
    const upstream = connect(targetPort, targetHost);
    upstream.on('error', () => {});
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const end = () => {
      if (!this.#pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
