// The raw server: a TCP server that hands each connection to the test untouched, so a test reads
// the client's handshake request and answers with exactly the bytes it wants.

import net from 'node:net';
import { DEFAULT_TIMEOUT_MS, withTimeout } from '../with-timeout.js';
import { toBuffer, type Bytes } from './bytes.js';
import { DeflateCodec, deflateParamsFrom, parseExtensions } from './deflate-codec.js';
import { HttpRequest } from './http-head.js';
import { acceptKeyFor } from './opening-handshake.js';
import { RawPeer } from './raw-peer.js';
import { SocketReader } from './socket-reader.js';

export interface AcceptOptions {
  /** Sec-WebSocket-Protocol value to answer with. */
  protocol?: string;
  /** Sec-WebSocket-Extensions value to answer with; permessage-deflate in it is then used by our side. */
  extensions?: string;
  /** Replaces Sec-WebSocket-Accept (a wrong one, on purpose). */
  acceptValue?: string;
  statusLine?: string;
  /** Merged over the default response headers; null removes one. */
  headers?: Record<string, string | null>;
  /** Written in the same TCP write right after the response (e.g. a first frame). */
  extraBytes?: Uint8Array;
}

export class RawServerConnection {
  request: HttpRequest | undefined;

  constructor(readonly reader: SocketReader) {}

  get socket(): net.Socket {
    return this.reader.socket;
  }

  async readRequest(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<HttpRequest> {
    this.request = new HttpRequest(await this.reader.readHead(timeoutMs));
    return this.request;
  }

  writeRaw(bytes: Bytes): Promise<void> {
    return new Promise((resolve) => this.socket.write(toBuffer(bytes), () => resolve()));
  }

  /** Answers the handshake (a correct 101 unless overridden) and returns our side as a server peer. */
  async accept(options: AcceptOptions = {}): Promise<RawPeer> {
    const request = this.request ?? (await this.readRequest());
    const key = request.get('sec-websocket-key') ?? '';
    const lines = new Map<string, [string, string | null]>([
      ['upgrade', ['Upgrade', 'websocket']],
      ['connection', ['Connection', 'Upgrade']],
      ['sec-websocket-accept', ['Sec-WebSocket-Accept', options.acceptValue ?? acceptKeyFor(key)]],
    ]);
    if (options.protocol !== undefined) lines.set('sec-websocket-protocol', ['Sec-WebSocket-Protocol', options.protocol]);
    if (options.extensions !== undefined) lines.set('sec-websocket-extensions', ['Sec-WebSocket-Extensions', options.extensions]);
    for (const [name, value] of Object.entries(options.headers ?? {})) lines.set(name.toLowerCase(), [name, value]);
    let head = `${options.statusLine ?? 'HTTP/1.1 101 Switching Protocols'}\r\n`;
    for (const [name, value] of lines.values()) if (value !== null) head += `${name}: ${value}\r\n`;
    head += '\r\n';
    await this.writeRaw(Buffer.concat([Buffer.from(head, 'latin1'), options.extraBytes ?? Buffer.alloc(0)]));
    const peer = new RawPeer('server', this.reader);
    // A malformed answer (sent on purpose to see the client fail) leaves our side uncompressed.
    const pmd = parseExtensions(options.extensions).filter((e) => e.name === 'permessage-deflate');
    try {
      if (pmd.length === 1 && !pmd[0]!.repeated) peer.deflate = new DeflateCodec(deflateParamsFrom(pmd[0]!), 'server');
    } catch {
      peer.deflate = undefined;
    }
    return peer;
  }
}

export interface RawServer {
  port: number;
  url: string;
  /** The next accepted TCP connection (in accept order). */
  nextConnection(timeoutMs?: number): Promise<RawServerConnection>;
  close(): Promise<void>;
}

/**
 * A TCP server that hands each connection to the test untouched: the test reads the client's
 * handshake request and answers with exactly the bytes it wants. `handler`, when given, is
 * called for every connection instead of queueing it for nextConnection().
 */
export async function startRawServer(handler?: (connection: RawServerConnection) => void | Promise<void>): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const queued: RawServerConnection[] = [];
  const waiting: ((connection: RawServerConnection) => void)[] = [];
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const connection = new RawServerConnection(new SocketReader(socket));
    if (handler !== undefined) {
      void Promise.resolve(handler(connection)).catch(() => socket.destroy());
      return;
    }
    const taker = waiting.shift();
    if (taker !== undefined) taker(connection);
    else queued.push(connection);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/`,
    nextConnection(timeoutMs = DEFAULT_TIMEOUT_MS) {
      const ready = queued.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return withTimeout(new Promise<RawServerConnection>((resolve) => waiting.push(resolve)), timeoutMs, 'a TCP connection from the client');
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
