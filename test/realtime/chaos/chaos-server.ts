// The chaos test's server side: one RealtimeServer on an http server listening on a Unix socket
// (the proxies' server leg), a big-history MemoryBroker and a tiny-history one routed by channel,
// the server-side sockets by client (to kill them), and a tap on every channel for the ledger.
//
// Why a Unix socket for the server leg: loopback TCP autotunes its buffers to megabytes, so a
// client that stops reading would need minutes of traffic before the server's own buffer grew;
// a Unix socket's send buffer (~200 KB) fills like a real network path's, and 1013 happens for real.

import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { msgpackCodec } from '../../../src/codecs/index.js';
import type { Broker, BrokerPublication } from '../../../src/realtime/broker.js';
import { MemoryBroker } from '../../../src/realtime/memory-broker.js';
import { RealtimeServer } from '../../../src/realtime/realtime-server.js';
import { RoutedBroker } from './routed-broker.js';

export interface ChaosServerOptions {
  bigChannels: readonly string[];
  tinyChannels: readonly string[];
  bigHistorySize: number;
  tinyHistorySize: number;
  maxOutboundBytes: number;
  heartbeatIntervalMs: number;
  /** Receives every publication of every channel, before any session does. */
  tap: (publication: BrokerPublication) => void;
  /** A session ended with `code` (by either side). */
  onSessionClosed: (sessionId: string, code: number) => void;
}

export class ChaosServer {
  readonly socketPath = path.join(tmpdir(), `tidewire-chaos-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
  readonly broker: Broker;
  private readonly brokers: MemoryBroker[];
  private readonly rt: RealtimeServer;
  private readonly http = http.createServer();
  /** Server-side sockets of the open connections, by the client index in the request URL. */
  private readonly sockets = new Map<number, Set<Duplex>>();

  private constructor(options: ChaosServerOptions) {
    const big = new MemoryBroker({ historySize: options.bigHistorySize });
    const tiny = new MemoryBroker({ historySize: options.tinyHistorySize });
    const tinyChannels = new Set(options.tinyChannels);
    this.brokers = [big, tiny];
    this.broker = new RoutedBroker((channel) => (tinyChannels.has(channel) ? tiny : big), this.brokers);
    this.rt = new RealtimeServer({
      noServer: true,
      broker: this.broker,
      codecs: [msgpackCodec],
      maxOutboundBytes: options.maxOutboundBytes,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
    });
    this.rt.on('sessionClosed', (info: { id: string }, code: number) => options.onSessionClosed(info.id, code));
    this.http.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const client = Number(new URL(req.url ?? '/', 'http://chaos').searchParams.get('client'));
      const open = this.sockets.get(client) ?? new Set<Duplex>();
      this.sockets.set(client, open);
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      this.rt.handleUpgrade(req, socket, head);
    });
  }

  static async start(options: ChaosServerOptions): Promise<ChaosServer> {
    const server = new ChaosServer(options);
    // The tap subscribes before any session: the broker calls its listeners in subscription order.
    for (const channel of [...options.bigChannels, ...options.tinyChannels]) await server.broker.subscribe(channel, options.tap);
    await new Promise<void>((resolve) => server.http.listen(server.socketPath, resolve));
    return server;
  }

  /** Destroys the server's socket of client `client`'s newest connection (no close frame): false when it has none. */
  killSocketOf(client: number): boolean {
    const newest = [...(this.sockets.get(client) ?? [])].at(-1);
    if (newest === undefined) return false;
    newest.destroy();
    return true;
  }

  async close(): Promise<void> {
    await this.rt.close();
    await this.broker.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }
}
