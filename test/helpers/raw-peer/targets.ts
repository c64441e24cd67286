// An endpoint under test reached through the raw peer, either side: a server we connect to or a
// client that connects to us; the same cases run against both, with a bystander connection that
// must keep echoing while a case fails its own connection.

import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { DEFAULT_TIMEOUT_MS, withTimeout } from '../with-timeout.js';
import type { AppRegistry } from './app-registry.js';
import { toBuffer, type Bytes } from './bytes.js';
import { Opcode } from './frame-codec.js';
import { clientRequestProblems } from './opening-handshake.js';
import { openWebSocket, type ConnectOptions } from './raw-client.js';
import type { CloseResult, RawPeer } from './raw-peer.js';
import { startRawServer, type AcceptOptions, type RawServerConnection } from './raw-server.js';

/**
 * Runs `body` while `bystander`, a second well-behaved connection to the same endpoint, echoes
 * before and after it (then `echoesAfter` too): one connection's bad input must never disturb
 * another (RFC 6455 §7.1.7 fails *that* connection).
 */
async function besideBystander<T>(bystander: RawPeer, body: () => Promise<T>, echoesAfter: () => Promise<unknown> = () => Promise.resolve()): Promise<T> {
  await bystander.expectEcho('bystander before');
  let result: T;
  try {
    result = await body();
  } catch (error) {
    bystander.destroy(); // a failed case must not hold the endpoint's shutdown for its close timeout
    throw error;
  }
  await echoesAfter();
  await bystander.expectEcho('bystander after');
  await bystander.closeHandshake(1000);
  return result;
}

/** Runs `body` while another raw client of the server on `port` echoes text and binary before and after. */
export async function withBystander<T>(port: number, body: () => Promise<T>, options: ConnectOptions = {}): Promise<T> {
  const bystander = await openWebSocket(port, options);
  return besideBystander(bystander, body, () => bystander.expectEcho(Buffer.from([0, 1, 2, 0xff]), { binary: true }));
}

export interface TargetConnection<App> {
  /** Our raw side. */
  peer: RawPeer;
  /** The endpoint's application object: the server's WebSocket for this connection, or the client. */
  app: Promise<App>;
}

export interface OpenOptions {
  /** Server side: the extensions we offer. Client side: the extensions our raw server answers with. */
  extensions?: string;
  /** Server side only: more of the request. */
  connect?: ConnectOptions;
  /** Client side only: more of the response. */
  accept?: AcceptOptions;
}

/** An endpoint under test reached through a raw peer: a server we connect to, or a client that connects to us. */
export interface Target<App> {
  readonly side: 'server' | 'client';
  open(options?: OpenOptions): Promise<TargetConnection<App>>;
  /** Runs `body` while another connection to the same endpoint keeps echoing before and after. */
  isolate<T>(body: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A server under test on `port`, whose connections echo; `apps` finds the server-side object of each. */
export function serverTarget<App>(port: number, apps: AppRegistry<App>, close: () => Promise<void> = () => Promise.resolve()): Target<App> {
  return {
    side: 'server',
    async open(options = {}) {
      const connect: ConnectOptions = { ...options.connect };
      if (options.extensions !== undefined) connect.extensions = options.extensions;
      const peer = await openWebSocket(port, connect);
      let app: Promise<App> | undefined;
      // Looked up only when a test asks, so cases that never do leave no timer behind.
      return {
        peer,
        get app() {
          return (app ??= apps.get(peer.socket.localPort));
        },
      };
    },
    isolate: (body) => withBystander(port, body),
    close,
  };
}

/**
 * A client under test: `startClient(url)` creates one (an echoing client) that connects to our raw
 * server. Each open() gets its own URL so concurrent tests never swap connections.
 */
export async function clientTarget<App>(startClient: (url: string) => App): Promise<Target<App>> {
  const pending = new Map<string, (connection: RawServerConnection) => void>();
  const server = await startRawServer(async (connection) => {
    const request = await connection.readRequest();
    const id = new URL(request.target, 'http://x').searchParams.get('id') ?? '';
    const taker = pending.get(id);
    if (taker === undefined) {
      connection.socket.destroy();
      return;
    }
    pending.delete(id);
    taker(connection);
  });
  let nextId = 0;
  const open = async (options: OpenOptions = {}): Promise<TargetConnection<App>> => {
    const id = String(++nextId);
    const arrived = new Promise<RawServerConnection>((resolve) => pending.set(id, resolve));
    const app = startClient(`${server.url}?id=${id}`);
    const connection = await withTimeout(arrived, DEFAULT_TIMEOUT_MS, 'the client under test to connect');
    const problems = clientRequestProblems(connection.request!);
    if (problems.length > 0) throw new Error(`bad opening handshake request: ${problems.join('; ')}`);
    const accept: AcceptOptions = { ...options.accept };
    if (options.extensions !== undefined) accept.extensions = options.extensions;
    return { peer: await connection.accept(accept), app: Promise.resolve(app) };
  };
  return {
    side: 'client',
    open,
    async isolate<T>(body: () => Promise<T>) {
      const { peer } = await open();
      return besideBystander(peer, body);
    },
    close: () => server.close(),
  };
}

/**
 * Defines the same cases twice, in concurrent suites: against the server (raw client → server
 * under test) and against the client (client under test → raw server). `start` builds the target.
 */
export function forBothSides<App>(
  start: (side: 'server' | 'client') => Promise<Target<App>>,
  define: (side: 'server' | 'client', target: () => Target<App>) => void,
): void {
  describe('server and client', { concurrency: true }, () => {
    for (const side of ['server', 'client'] as const) {
      describe(`${side} side`, { concurrency: true }, () => {
        let target: Target<App> | undefined;
        before(async () => {
          target = await start(side);
        });
        after(() => target?.close());
        define(side, () => target!);
      });
    }
  });
}

/**
 * The endpoint must fail the connection with `code` after `send`, having sent nothing before its
 * close frame but the echoes of the valid text messages `echoed`; meanwhile another connection to
 * the same endpoint keeps echoing.
 */
export async function expectFailure<App>(
  target: Target<App>,
  send: (peer: RawPeer) => Promise<void>,
  code: number,
  echoed: Bytes[] = [],
): Promise<CloseResult> {
  return target.isolate(async () => {
    const { peer } = await target.open();
    await send(peer);
    const result = await peer.expectClose(code).catch((error: unknown) => {
      peer.destroy();
      throw error;
    });
    assert.deepEqual(
      result.skipped.map((frame) => [frame.opcode, frame.payload.toString('hex')]),
      echoed.map((payload) => [Opcode.TEXT, toBuffer(payload).toString('hex')]),
      'only the echoes of the valid messages may come before the close frame',
    );
    await peer.finishClosingHandshake(result.code);
    return result;
  });
}
