// A real RealtimeServer (MemoryBroker, noServer on an http server) and RealtimeClients on
// tidewire's WebSocket, with the waits the client tests share.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket } from '../../../src/index.js';
import { ClientState, type StateInfo } from '../../../src/realtime/client-state.js';
import type { ClientSubscription, SubscribedInfo } from '../../../src/realtime/client-subscription.js';
import { MemoryBroker } from '../../../src/realtime/memory-broker.js';
import { RealtimeClient } from '../../../src/realtime/realtime-client.js';
import { RealtimeError } from '../../../src/realtime/realtime-errors.js';
import type { RealtimeClientOptions } from '../../../src/realtime/realtime-client-options.js';
import { RealtimeServer, type RealtimeServerOptions } from '../../../src/realtime/realtime-server.js';
import type { WebSocketConstructor } from '../../../src/realtime/transport.js';
import { withTimeout } from '../../helpers/with-timeout.js';

export type Channels = { chat: { from: string; text: string }; ticks: number; secret: string; room: string };
export type Methods = {
  add: { params: { a: number; b: number }; result: number };
  wait: { params: null; result: never };
  fail: { params: null; result: never };
  noop: { params: null; result: null };
};
export type ClientMethods = { echo: { params: string; result: string }; hang: { params: null; result: never } };
export type Client = RealtimeClient<Channels, Methods, ClientMethods>;

export const TIMEOUT_MS = 5000;
export const TidewireWebSocket: WebSocketConstructor = WebSocket;

export interface Harness {
  url: string;
  rt: RealtimeServer;
  broker: MemoryBroker;
  /** Tokens the server refuses at the handshake (HTTP 401); '*' refuses everyone. */
  blocked: Set<string>;
  /** Server-side TCP sockets of the live connections, by the token that opened them. */
  sockets: Map<Duplex, string>;
  /** The server side drops connections without a close frame (the client sees 1006). */
  kill(token?: string): void;
  client(options?: RealtimeClientOptions & { path?: string }): Client;
  close(): Promise<void>;
}

/** Matches a RealtimeError with `code` (for assert.rejects). */
export const isCode = (code: string) => (error: unknown) => error instanceof RealtimeError && error.code === code;

export async function startHarness(options: Partial<RealtimeServerOptions> = {}, brokerOptions: ConstructorParameters<typeof MemoryBroker>[0] = {}): Promise<Harness> {
  const server = http.createServer();
  const broker = new MemoryBroker(brokerOptions);
  const blocked = new Set<string>();
  const sockets = new Map<Duplex, string>();
  const clients: Client[] = [];
  const rt = new RealtimeServer({
    noServer: true,
    broker,
    authenticate: (_req, token) => (blocked.has('*') || blocked.has(token ?? '') ? null : { userId: token ?? 'anonymous' }),
    ...options,
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.set(socket, new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '');
    socket.on('close', () => sockets.delete(socket));
    rt.handleUpgrade(req, socket, head);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/realtime`;
  return {
    url, rt, broker, blocked, sockets,
    kill: (token) => {
      for (const [socket, owner] of sockets) if (token === undefined || owner === token) socket.destroy();
    },
    client: (clientOptions = {}) => {
      const client: Client = new RealtimeClient(clientOptions.path ?? url, {
        WebSocket: TidewireWebSocket, backoff: { baseMs: 20, capMs: 100 }, ...clientOptions,
      });
      clients.push(client);
      return client;
    },
    close: async () => {
      for (const client of clients) client.close();
      await rt.close();
      await broker.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function nextState(client: Client, state: ClientState): Promise<StateInfo> {
  return withTimeout(new Promise<StateInfo>((resolve) => {
    const listener = (next: ClientState, info: StateInfo) => {
      if (next !== state) return;
      client.off('state', listener);
      resolve(info);
    };
    client.on('state', listener);
  }), TIMEOUT_MS, `state ${state}`);
}

export async function connected(client: Client): Promise<Client> {
  if (client.state !== ClientState.CONNECTED) await nextState(client, ClientState.CONNECTED);
  return client;
}

export function nextSubscribed<T>(subscription: ClientSubscription<T>): Promise<SubscribedInfo> {
  return withTimeout(new Promise<SubscribedInfo>((resolve) => {
    const listener = (info: SubscribedInfo) => {
      subscription.off('subscribed', listener);
      resolve(info);
    };
    subscription.on('subscribed', listener);
  }), TIMEOUT_MS, `subscribed on ${subscription.channel}`);
}

/** Polls `check` (real sockets: the condition comes from another process's point of view). */
export async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Records a subscription's publications. */
export function collect<T>(subscription: ClientSubscription<T>): Array<{ data: T; offset: number; epoch: string }> {
  const received: Array<{ data: T; offset: number; epoch: string }> = [];
  subscription.on('publication', (data, meta) => received.push({ data, ...meta }));
  return received;
}
