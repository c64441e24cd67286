// A controllable proxy between one client and the server: it forwards bytes both ways (with
// backpressure) and can stop reading either side (the other side's writer then fills its socket
// buffers, as on a congested network), hold every connection for an outage, or cut connections.

import net from 'node:net';
import type { AddressInfo } from 'node:net';

/** One direction of one connection: reads `from`, writes `to`; paused by the chaos or by backpressure. */
class Forwarder {
  private held = false;
  private waitingForDrain = false;

  constructor(
    private readonly from: net.Socket,
    to: net.Socket,
  ) {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) {
        this.waitingForDrain = true;
        this.update();
      }
    });
    to.on('drain', () => {
      this.waitingForDrain = false;
      this.update();
    });
  }

  /** Stops (or restarts) reading `from`: what it sends piles up in its own buffers. */
  hold(on: boolean): void {
    this.held = on;
    this.update();
  }

  private update(): void {
    if (this.held || this.waitingForDrain) this.from.pause();
    else this.from.resume();
  }
}

/** A client's TCP connection and the proxy's connection to the server for it. */
class ProxiedConnection {
  readonly toServer: Forwarder;
  readonly toClient: Forwarder;
  private done = false;

  constructor(
    readonly client: net.Socket,
    readonly upstream: net.Socket,
    private readonly onDone: (connection: ProxiedConnection) => void,
  ) {
    this.toServer = new Forwarder(client, upstream);
    this.toClient = new Forwarder(upstream, client);
    // An orderly end is passed on after what was written before it; an error or a close ends both.
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    for (const socket of [client, upstream]) {
      socket.on('error', () => {});
      socket.on('close', () => this.cut());
    }
  }

  /** Drops both legs at once (pending bytes are lost). */
  cut(): void {
    if (this.done) return;
    this.done = true;
    this.client.destroy();
    this.upstream.destroy();
    this.onDone(this);
  }
}

export interface ChaosProxyTarget {
  /** A Unix socket path or a TCP port on 127.0.0.1. */
  path?: string;
  port?: number;
}

export class ChaosProxy {
  private readonly connections = new Set<ProxiedConnection>();
  private readonly server: net.Server;
  private outage = false;
  private heldInbound: ProxiedConnection | null = null;

  private constructor(private readonly target: ChaosProxyTarget) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(target: ChaosProxyTarget): Promise<ChaosProxy> {
    const proxy = new ChaosProxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** True while an outage holds every connection. */
  get inOutage(): boolean {
    return this.outage;
  }

  /** True while the inbound direction of a connection is held. */
  get holdingInbound(): boolean {
    return this.heldInbound !== null;
  }

  /**
   * Stops forwarding server → client on the newest connection: the server's writes pile up in its
   * socket, so its bufferedAmount grows. False when there is no connection to hold.
   */
  holdInbound(): boolean {
    const newest = [...this.connections].at(-1);
    if (newest === undefined || this.heldInbound !== null) return false;
    this.heldInbound = newest;
    newest.toClient.hold(true);
    return true;
  }

  releaseInbound(): void {
    const held = this.heldInbound;
    this.heldInbound = null;
    if (held !== null && !this.outage) held.toClient.hold(false);
  }

  /** Holds both directions of every connection, including those opened meanwhile, until ended. */
  startOutage(): void {
    this.outage = true;
    for (const connection of this.connections) this.holdBoth(connection, true);
  }

  endOutage(): void {
    this.outage = false;
    for (const connection of this.connections) this.holdBoth(connection, false);
    if (this.heldInbound !== null) this.heldInbound.toClient.hold(true);
  }

  /** Drops every connection at once, both legs (a network failure). */
  cutAll(): number {
    const all = [...this.connections];
    for (const connection of all) connection.cut();
    return all.length;
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    const upstream = this.target.path !== undefined ? net.connect(this.target.path) : net.connect(this.target.port ?? 0, '127.0.0.1');
    const connection = new ProxiedConnection(client, upstream, (ended) => {
      this.connections.delete(ended);
      if (this.heldInbound === ended) this.heldInbound = null;
    });
    this.connections.add(connection);
    if (this.outage) this.holdBoth(connection, true);
  }

  private holdBoth(connection: ProxiedConnection, on: boolean): void {
    connection.toServer.hold(on);
    connection.toClient.hold(on);
  }
}
