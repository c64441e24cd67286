// The two directions of the ws interop matrix, each seen the same way: a connected client end and
// server end, one of them tidewire and the other ws, with the server's TCP socket to count wire bytes.

import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket as WsSocket, WebSocketServer as WsServer } from 'ws';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { AsyncQueue } from './async-queue.js';
import { portOf, tidewireMessages, toBuffer, within, type Received } from './support.js';

export type Library = 'tidewire' | 'ws';
export type Role = 'client' | 'server';

/** What the cases do with either library's WebSocket. */
export interface AnySocket {
  readonly protocol: string;
  readonly extensions: string;
  readonly readyState: number;
  send(data: string | Buffer, options?: { binary?: boolean; compress?: boolean }): void;
  close(code?: number, reason?: string): void;
  ping(data?: Buffer): void;
}

/** One end of a connection: who it is, its socket and every message it received. */
export interface End {
  readonly library: Library;
  readonly role: Role;
  /** "tidewire client", "ws server" … for labels and messages. */
  readonly name: string;
  readonly socket: AnySocket;
  readonly messages: AsyncQueue<Received>;
}

export interface Link {
  client: End;
  server: End;
  tidewire: End & { socket: WebSocket };
  ws: End & { socket: WsSocket };
  /** The server's side of the TCP connection: its byte counts are what went over the wire. */
  wire: Socket;
  /** Closes the client with 1000 unless it is closed already, and waits for its close event. */
  closeQuietly(): Promise<void>;
}

export interface Direction {
  /** The suite's name. */
  readonly title: string;
  /** Which library plays the client (the other one plays the server). */
  readonly client: Library;
  /** The subprotocol the server picks from the client's offer. */
  readonly protocol: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  connect(): Promise<Link>;
}

export function wsMessages(ws: WsSocket, label: string): AsyncQueue<Received> {
  const messages = new AsyncQueue<Received>(label);
  ws.on('message', (data, isBinary) => messages.push({ data: toBuffer(data), isBinary }));
  return messages;
}

function end<S extends AnySocket>(library: Library, role: Role, socket: S, messages: AsyncQueue<Received>): End & { socket: S } {
  return { library, role, name: `${library} ${role}`, socket, messages };
}

/** Closes `client` with 1000 unless it is closed already; both libraries number readyState alike. */
async function closeQuietly(client: AnySocket & { once(event: 'close', listener: () => void): unknown }, label: string): Promise<void> {
  if (client.readyState === WebSocket.CLOSED) return;
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  if (client.readyState === WebSocket.OPEN) client.close(1000);
  await within(closed, label);
}

/** A server-side connection, with its upgrade request (whose socket counts wire bytes). */
interface Accepted<S> {
  socket: S;
  req: IncomingMessage;
  messages: AsyncQueue<Received>;
}

/** tidewire's client against a ws server that deflates everything and picks chat.v1. */
export function tidewireClientToWsServer(): Direction {
  let server: WsServer;
  let url: string;
  const accepted = new AsyncQueue<Accepted<WsSocket>>('ws server connections');
  return {
    title: 'tidewire client ↔ ws server',
    client: 'tidewire',
    protocol: 'chat.v1',
    async start() {
      server = new WsServer({
        host: '127.0.0.1',
        port: 0,
        perMessageDeflate: { threshold: 0 },
        handleProtocols: (protocols) => (protocols.has('chat.v1') ? 'chat.v1' : false),
      });
      server.on('connection', (socket, req) => {
        accepted.push({ socket, req, messages: wsMessages(socket, 'ws server inbox') });
      });
      await once(server, 'listening');
      url = `ws://127.0.0.1:${portOf(server)}/`;
    },
    async stop() {
      for (const socket of server.clients) socket.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async connect() {
      const client = new WebSocket(url, ['chat.v2', 'chat.v1']);
      const inbox = tidewireMessages(client, 'tidewire client inbox');
      await within(once(client, 'open'), 'tidewire client open');
      const peer = await accepted.next();
      const tidewire = end('tidewire', 'client', client, inbox);
      const ws = end('ws', 'server', peer.socket, peer.messages);
      return { client: tidewire, server: ws, tidewire, ws, wire: peer.req.socket, closeQuietly: () => closeQuietly(client, 'tidewire client close') };
    },
  };
}

/** A ws client that deflates everything against tidewire's server, which picks chat.v2. */
export function wsClientToTidewireServer(): Direction {
  let server: WebSocketServer;
  let url: string;
  const accepted = new AsyncQueue<Accepted<WebSocket>>('tidewire server connections');
  return {
    title: 'ws client ↔ tidewire server',
    client: 'ws',
    protocol: 'chat.v2',
    async start() {
      server = new WebSocketServer({
        host: '127.0.0.1',
        port: 0,
        perMessageDeflate: true,
        handleProtocols: (protocols: Set<string>) => (protocols.has('chat.v2') ? 'chat.v2' : false),
      });
      server.on('connection', (socket: WebSocket, req: IncomingMessage) => {
        accepted.push({ socket, req, messages: tidewireMessages(socket, 'tidewire server inbox') });
      });
      await within(once(server, 'listening'), 'tidewire server listening');
      url = `ws://127.0.0.1:${portOf(server)}/`;
    },
    async stop() {
      await within(new Promise<void>((resolve) => server.close(() => resolve())), 'tidewire server close', 5_000);
    },
    async connect() {
      const client = new WsSocket(url, ['chat.v1', 'chat.v2'], { perMessageDeflate: { threshold: 0 } });
      const inbox = wsMessages(client, 'ws client inbox');
      await within(once(client, 'open'), 'ws client open');
      const peer = await accepted.next();
      const ws = end('ws', 'client', client, inbox);
      const tidewire = end('tidewire', 'server', peer.socket, peer.messages);
      return { client: ws, server: tidewire, tidewire, ws, wire: peer.req.socket, closeQuietly: () => closeQuietly(client, 'ws client close') };
    },
  };
}
