// Test support for the realtime server: a client that speaks the envelope (JSON unless given another codec) directly over
// tidewire's WebSocket (no RealtimeClient), and a fixture that starts a RealtimeServer on an http
// server bound to a free port and tears both down when the test ends.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { WebSocket } from '../../../src/index.js';
import type { Broker } from '../../../src/realtime/broker.js';
import { jsonCodec, subprotocolOf, type Codec } from '../../../src/realtime/codec.js';
import type { ClientFrame, ServerFrame } from '../../../src/realtime/envelope.js';
import { RealtimeServer, type RealtimeServerOptions } from '../../../src/realtime/realtime-server.js';
import { DEFAULT_TIMEOUT_MS, withTimeout } from '../../helpers/with-timeout.js';

export const JSON_SUBPROTOCOL = 'tidewire.v1.json';

type Request = ClientFrame extends infer F ? (F extends { id: number } ? Omit<F, 'id'> : never) : never;
export type Reply = Extract<ServerFrame, { t: 'result' } | { t: 'error' }>;
type Unsolicited = Exclude<ServerFrame, Reply>;

export interface EnvelopeClientOptions {
  /** The codec to speak (default JSON); protocols default to its subprotocol. */
  codec?: Codec;
  protocols?: string[];
  headers?: Record<string, string>;
  origin?: string;
}

/** A JSON-envelope client: requests get ids and are matched with their replies; everything else lands in an inbox. */
export class EnvelopeClient {
  private nextId = 1;
  private readonly replies = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  private readonly inbox: Unsolicited[] = [];
  private readonly inboxWaiters = new Set<() => void>();
  readonly closed: Promise<{ code: number; reason: string }>;
  hello!: Extract<ServerFrame, { t: 'hello' }>;

  private constructor(
    readonly ws: WebSocket,
    readonly codec: Codec,
  ) {
    this.closed = new Promise((resolve) =>
      ws.on('close', (code: number, reason: Buffer) => {
        for (const { reject } of this.replies.values()) reject(new Error(`the connection closed with ${code} before the reply`));
        this.replies.clear();
        resolve({ code, reason: reason.toString() });
      }),
    );
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onFrame(codec.decode(isBinary ? new Uint8Array(data) : data.toString('utf8')) as ServerFrame));
  }

  /** Connects and waits for the hello. */
  static async connect(url: string, options: EnvelopeClientOptions = {}): Promise<EnvelopeClient> {
    const codec = options.codec ?? jsonCodec;
    const ws = new WebSocket(url, options.protocols ?? [subprotocolOf(codec)], {
      ...(options.headers !== undefined ? { headers: options.headers } : {}),
      ...(options.origin !== undefined ? { origin: options.origin } : {}),
    });
    const client = new EnvelopeClient(ws, codec);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        ws.once('error', reject);
        ws.once('open', () => ws.off('error', reject));
        void client.next('hello').then((hello) => {
          client.hello = hello;
          resolve();
        }, reject);
      }),
      DEFAULT_TIMEOUT_MS,
      'the hello',
    );
    return client;
  }

  /** The HTTP status a handshake is refused with (fails if it is accepted). */
  static async refusal(url: string, options: EnvelopeClientOptions = {}): Promise<number> {
    const ws = new WebSocket(url, options.protocols ?? [JSON_SUBPROTOCOL], {
      ...(options.headers !== undefined ? { headers: options.headers } : {}),
      ...(options.origin !== undefined ? { origin: options.origin } : {}),
    });
    return withTimeout(
      new Promise<number>((resolve, reject) => {
        ws.once('open', () => {
          ws.terminate();
          reject(new Error('the handshake was accepted'));
        });
        ws.once('error', (error: Error & { status?: number }) => resolve(error.status ?? 0));
      }),
      DEFAULT_TIMEOUT_MS,
      'the handshake refusal',
    );
  }

  /** Sends a request with a fresh id; resolves with its result or error frame. */
  request(frame: Request): Promise<Reply> {
    const id = this.nextId++;
    return this.requestWithId(id, frame);
  }

  /** Sends a request with the given id. */
  requestWithId(id: number, frame: Request): Promise<Reply> {
    const reply = new Promise<Reply>((resolve, reject) => this.replies.set(id, { resolve, reject }));
    this.send({ ...frame, id });
    return withTimeout(reply, DEFAULT_TIMEOUT_MS, `the reply to ${frame.t} #${id}`);
  }

  /** A request whose reply must be a result: returns the result. */
  async ok(frame: Request): Promise<any> {
    const reply = await this.request(frame);
    assert.equal(reply.t, 'result', `${frame.t} failed: ${JSON.stringify(reply)}`);
    return (reply as { result: unknown }).result;
  }

  /** A request whose reply must be an error: returns its code. */
  async fails(frame: Request): Promise<string> {
    const reply = await this.request(frame);
    assert.equal(reply.t, 'error', `${frame.t} should fail: ${JSON.stringify(reply)}`);
    return (reply as { error: { code: string } }).error.code;
  }

  /** Sends any value, in the client's codec. */
  send(value: unknown): void {
    this.ws.send(this.codec.encode(value));
  }

  /** Sends raw text or bytes. */
  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  /** The next unsolicited frame of type `t` (and matching `where`), taken from the inbox. */
  next<T extends Unsolicited['t']>(t: T, where: (frame: Extract<Unsolicited, { t: T }>) => boolean = () => true, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Extract<Unsolicited, { t: T }>> {
    const take = (): Extract<Unsolicited, { t: T }> | undefined => {
      const index = this.inbox.findIndex((frame) => frame.t === t && where(frame as Extract<Unsolicited, { t: T }>));
      return index < 0 ? undefined : (this.inbox.splice(index, 1)[0] as Extract<Unsolicited, { t: T }>);
    };
    return withTimeout(
      new Promise((resolve) => {
        const check = (): void => {
          const frame = take();
          if (frame === undefined) return;
          this.inboxWaiters.delete(check);
          resolve(frame);
        };
        this.inboxWaiters.add(check);
        check();
      }),
      timeoutMs,
      `a ${t} frame`,
    );
  }

  /** `count` publications of `channel`, in arrival order. */
  async publications(channel: string, count: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Extract<ServerFrame, { t: 'pub' }>[]> {
    const out = [];
    for (let i = 0; i < count; i++) out.push(await this.next('pub', (frame) => frame.channel === channel, timeoutMs));
    return out;
  }

  /** Unsolicited frames received and not taken yet. */
  pending(t?: Unsolicited['t']): Unsolicited[] {
    return this.inbox.filter((frame) => t === undefined || frame.t === t);
  }

  /** Sends a ping frame and waits for the pong: every frame sent before it was handled. */
  async roundTrip(): Promise<void> {
    this.send({ t: 'ping' });
    await this.next('pong');
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
  }

  private onFrame(frame: ServerFrame): void {
    if (frame.t === 'result' || frame.t === 'error') {
      const waiting = this.replies.get(frame.id);
      if (waiting !== undefined) {
        this.replies.delete(frame.id);
        waiting.resolve(frame);
        return;
      }
    }
    this.inbox.push(frame as Unsolicited);
    for (const waiter of [...this.inboxWaiters]) waiter();
  }
}

export interface RealtimeFixture {
  rt: RealtimeServer;
  server: http.Server;
  port: number;
  /** ws://127.0.0.1:<port>/realtime */
  url: string;
  /** A connected client, closed at teardown. */
  connect(options?: EnvelopeClientOptions & { query?: string }): Promise<EnvelopeClient>;
  /** Runs `fn` at teardown before the server closes (e.g. to drop a raw socket that would hold up the closing handshakes). */
  beforeClose(fn: () => unknown): void;
}

/** A RealtimeServer on an http server on 127.0.0.1 and a free port; both closed when the test ends. */
export async function startRealtime(t: TestContext, options: Omit<RealtimeServerOptions, 'server' | 'noServer'> = {}): Promise<RealtimeFixture> {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const rt = new RealtimeServer({ heartbeatIntervalMs: 0, ...options, server });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `ws://127.0.0.1:${port}${options.path ?? '/realtime'}`;
  const clients: EnvelopeClient[] = [];
  const cleanups: (() => unknown)[] = [];
  t.after(async () => {
    for (const cleanup of cleanups) await cleanup();
    for (const client of clients) client.ws.terminate();
    await withTimeout(rt.close(), DEFAULT_TIMEOUT_MS, 'rt.close()');
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    rt,
    server,
    port,
    url,
    connect: async (connectOptions = {}) => {
      const client = await EnvelopeClient.connect(url + (connectOptions.query ?? ''), connectOptions);
      clients.push(client);
      return client;
    },
    beforeClose: (fn) => cleanups.push(fn),
  };
}

/** Resolves on the next `event` of `emitter`, with its arguments. */
export function once<A extends unknown[]>(emitter: NodeJS.EventEmitter, event: string, what = event): Promise<A> {
  return withTimeout(new Promise<A>((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args as A))), DEFAULT_TIMEOUT_MS, what);
}

/** `inner` with some of its methods replaced (the others bound to it): a broker that is slow, lossy or down on cue. */
export function wrapBroker(inner: Broker, overrides: Partial<Broker>): Broker {
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (typeof key === 'string' && Object.hasOwn(overrides, key)) return overrides[key as keyof Broker];
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Resolves after a random 0..maxMs ms. */
export function jitter(maxMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * (maxMs + 1))));
}
