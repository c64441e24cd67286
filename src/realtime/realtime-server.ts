// The messaging layer's server (DESIGN.md §2): accepts WebSocket connections on its own path
// (negotiating `tidewire.v1.<codec>`, authenticating at the handshake), keeps one Session per
// connection, and offers the application RPC handlers, calls to clients, server-side publishing and
// the list of sessions. The work per connection lives in session.ts and the files it uses.

import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type https from 'node:https';
import type { Duplex } from 'node:stream';
import { CloseCode } from '../protocol/close-codes.js';
import { WebSocketServer } from '../node/server.js';
import type { WebSocket } from '../node/websocket.js';
import { extractToken } from './auth-token.js';
import type { Broker } from './broker.js';
import { ChannelFanout } from './channel-fanout.js';
import { jsonCodec, subprotocolOf, type Codec } from './codec.js';
import type { PublishResult } from './envelope.js';
import { EnvelopeLimits } from './envelope-limits.js';
import { MemoryBroker } from './memory-broker.js';
import type { RateLimit } from './rate-limiter.js';
import { RealtimeError, RealtimeErrorCode } from './realtime-errors.js';
import { RpcRegistry, type RpcHandler, type RpcHandlerOptions } from './rpc-registry.js';
import type { ServerCallOptions } from './server-rpc.js';
import { DEFAULT_SESSION_LIMITS, Session, type SessionEnvironment, type SessionLimits } from './session.js';
import { messageOf } from './session-channels.js';
import type { SessionInfo } from './session-info.js';
import { WebSocketTransport } from './websocket-transport.js';

export type { SessionInfo } from './session-info.js';
export type { RpcContext, RpcHandler, RpcHandlerOptions } from './rpc-registry.js';
export type { ServerCallOptions } from './server-rpc.js';
export type { SessionLimits } from './session.js';

/** Who a handshake belongs to; null rejects it with HTTP 401. */
export type Authenticate = (
  req: IncomingMessage,
  token: string | undefined,
) => { userId: string; info?: unknown } | null | Promise<{ userId: string; info?: unknown } | null>;

export interface RealtimeServerOptions {
  /** Attach to this server's upgrades on `path`. Exactly one of `server` and `noServer`. */
  server?: http.Server | https.Server;
  /** Take upgrades through handleUpgrade() instead. */
  noServer?: true;
  /** Upgrade path when attached to `server` (default "/realtime"). */
  path?: string;
  /** Where channels live (default: a new MemoryBroker, closed by close()). */
  broker?: Broker;
  /** Codecs in the server's order of preference; JSON is always available (last unless listed). */
  codecs?: Codec[];
  /**
   * Runs at the handshake with the token found by extractToken() (Authorization: Bearer, cookie
   * `tidewire_token`, query `token`, or an offered subprotocol `tidewire.auth.<base64url>`).
   * Null → HTTP 401; a throw → HTTP 503 (and an 'error' event). Without it sessions are anonymous.
   */
  authenticate?: Authenticate;
  /** Origin allowlist ("scheme://host[:port]"); other origins get HTTP 403, requests without Origin pass. */
  allowedOrigins?: string[];
  /** False → FORBIDDEN reply to sub and presence requests (the connection stays). */
  canSubscribe?: (session: SessionInfo, channel: string) => boolean | Promise<boolean>;
  /** False → FORBIDDEN reply to pub (nothing is published; the connection stays). */
  canPublish?: (session: SessionInfo, channel: string, data: unknown) => boolean | Promise<boolean>;
  /** Per-channel settings: volatile channels drop publications for slow consumers instead of closing them. */
  channels?: (channel: string) => { volatile?: boolean };
  /** Per-connection token bucket over every request; past it RATE_LIMITED replies, and more than 2 × burst refusals within a second close with 1013 (the client reconnects after its backoff). */
  rateLimit?: RateLimit;
  /** Slow-consumer bound on a connection's unsent bytes (default 4 MiB): past it 1013, or drops for volatile channels. */
  maxOutboundBytes?: number;
  /** WebSocket pings every N ms (default 25 000; 0 = off), also sent in the hello as the client's app-level ping period. */
  heartbeatIntervalMs?: number;
  /** Default timeout of call() and of handlers (default 30 000; 0 = none). */
  rpcTimeoutMs?: number;
  /** Presence membership lifetime in the broker, refreshed while the session lives (default 60 000). */
  presenceTtlMs?: number;
  /** Largest message accepted from a client in bytes (default 1 MiB; 1009 beyond). */
  maxMessageBytes?: number;
  /** Per-session bounds (requests in flight, subscriptions, buffered publications). */
  limits?: Partial<SessionLimits>;
  /** Injected clock (rate limits). */
  now?: () => number;
}

export const DEFAULT_REALTIME_PATH = '/realtime';
export const DEFAULT_MAX_OUTBOUND_BYTES = 4 * 1024 * 1024;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 25_000;
export const DEFAULT_RPC_TIMEOUT_MS = 30_000;
export const DEFAULT_PRESENCE_TTL_MS = 60_000;

type Identity = { userId: string; info?: unknown };

/**
 * The messaging layer's server.
 *
 * ```ts
 * const rt = new RealtimeServer({ server: httpServer, authenticate: async (req, token) => users.byToken(token) });
 * rt.handle('add', async ({ a, b }, { session, signal }) => a + b);
 * rt.on('session', (info) => rt.call(info.id, 'greet', { text: 'hi' }, { timeoutMs: 5000 }).catch(() => {}));
 * await rt.publish('news', { headline: '…' });
 * await rt.close();
 * ```
 *
 * Events: `session` (info: SessionInfo) once a connection got its hello; `sessionClosed`
 * (info: SessionInfo, code: number) when it ended (the code it was closed with, by either side);
 * `error` (error) for failures outside any session (an authenticate hook that threw).
 */
export class RealtimeServer extends EventEmitter {
  private readonly wss: WebSocketServer;
  private readonly broker: Broker;
  private readonly ownsBroker: boolean;
  private readonly codecs: readonly Codec[];
  private readonly rpc = new RpcRegistry();
  private readonly fanout: ChannelFanout;
  private readonly environment: SessionEnvironment;
  private readonly live = new Map<string, Session>();
  private readonly infos = new Map<string, SessionInfo>();
  private readonly identities = new WeakMap<IncomingMessage, Identity>();
  private closing: Promise<void> | null = null;

  constructor(private readonly options: RealtimeServerOptions) {
    super();
    if ((options.server !== undefined) === (options.noServer === true)) throw new TypeError('Exactly one of "server" and "noServer" must be given');
    this.codecs = [...(options.codecs ?? []).filter((codec) => codec.name !== jsonCodec.name || codec === jsonCodec), jsonCodec].filter(
      (codec, index, all) => all.findIndex((other) => other.name === codec.name) === index,
    );
    this.ownsBroker = options.broker === undefined;
    this.broker = options.broker ?? new MemoryBroker();
    this.fanout = new ChannelFanout(this.broker);
    const heartbeatMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    const channelSettings = options.channels;
    this.environment = {
      broker: this.broker,
      fanout: this.fanout,
      rpc: this.rpc,
      channelPolicy: {
        canSubscribe: options.canSubscribe,
        isVolatile: (channel) => channelSettings?.(channel).volatile === true,
        presenceTtlMs: options.presenceTtlMs ?? DEFAULT_PRESENCE_TTL_MS,
      },
      canPublish: options.canPublish,
      rateLimit: options.rateLimit,
      now: options.now ?? Date.now,
      maxOutboundBytes: options.maxOutboundBytes ?? DEFAULT_MAX_OUTBOUND_BYTES,
      heartbeatMs,
      rpcTimeoutMs: options.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS,
      limits: { ...DEFAULT_SESSION_LIMITS, ...options.limits },
    };
    this.wss = new WebSocketServer({
      ...(options.server !== undefined ? { server: options.server, path: options.path ?? DEFAULT_REALTIME_PATH } : { noServer: true }),
      ...(options.allowedOrigins !== undefined ? { allowedOrigins: options.allowedOrigins } : {}),
      ...(options.maxMessageBytes !== undefined ? { maxPayload: options.maxMessageBytes } : {}),
      heartbeatIntervalMs: heartbeatMs,
      handleProtocols: (offered) => this.chooseCodec(offered)?.subprotocol ?? false,
      verifyClient: ({ req }) => this.verify(req),
    });
    this.wss.on('connection', (ws: WebSocket, req: IncomingMessage) => this.accept(ws, req));
    this.wss.on('error', (error: unknown) => this.emitError(error));
  }

  /** Open sessions by id. */
  get sessions(): ReadonlyMap<string, SessionInfo> {
    return this.infos;
  }

  /** In noServer mode: hand over an upgrade request (from the http server's 'upgrade' event). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
  }

  /**
   * Registers the handler of a client-callable method. It gets the params and { session, signal };
   * the signal aborts on timeout (reply RPC_TIMEOUT), client cancel (reply CANCELLED) or session
   * close. Throw `new RealtimeError(code, message, details?)` for a coded error reply.
   */
  handle<P = any, R = unknown>(method: string, handler: RpcHandler<P, R>, options?: RpcHandlerOptions): this {
    this.rpc.handle(method, handler as RpcHandler, options);
    return this;
  }

  /**
   * Calls `method` on the client of session `sessionId`. Resolves with its result; rejects with
   * its error (a RealtimeError with its code), RPC_TIMEOUT (after options.timeoutMs or
   * rpcTimeoutMs; the client is sent a cancel), CANCELLED (options.signal aborted) or
   * CLIENT_CLOSED (no such session, or it closed before answering).
   */
  call(sessionId: string, method: string, params?: unknown, options?: ServerCallOptions): Promise<unknown> {
    const session = this.live.get(sessionId);
    if (session === undefined) return Promise.reject(new RealtimeError(RealtimeErrorCode.CLIENT_CLOSED, `No open session ${sessionId}`));
    return session.call(method, params ?? null, options);
  }

  /**
   * Publishes through the broker; resolves with the publication's position, rejects with
   * BROKER_UNAVAILABLE. Without a `pid` a rejection cut off inside the broker may still have been
   * appended; with one (1..256 characters, unique to this publication) calling again with the same
   * pid is safe: within the dedup window a repeat resolves with the first result.
   */
  async publish(channel: string, data: unknown, options: { pid?: string } = {}): Promise<PublishResult> {
    const { pid } = options;
    if (pid !== undefined && !(typeof pid === 'string' && pid.length > 0 && pid.length <= EnvelopeLimits.maxNameLength)) {
      throw new RealtimeError(RealtimeErrorCode.BAD_REQUEST, `pid must be a string of 1..${EnvelopeLimits.maxNameLength} characters`);
    }
    try {
      const { epoch, offset } = await this.broker.publish(channel, data, pid !== undefined ? { pid } : undefined);
      return { epoch, offset };
    } catch (error) {
      throw error instanceof RealtimeError ? error : new RealtimeError(RealtimeErrorCode.BROKER_UNAVAILABLE, `Not accepted: ${messageOf(error)}`);
    }
  }

  /** Closes every session with 1001, stops accepting, ends the broker subscriptions, and closes the broker if it made it. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const sessions = [...this.live.values()];
    for (const session of sessions) session.close(CloseCode.GOING_AWAY, 'server shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await Promise.all(sessions.map((session) => session.released));
    await this.fanout.close();
    if (this.ownsBroker) await this.broker.close();
  }

  private chooseCodec(offered: ReadonlySet<string>): { codec: Codec; subprotocol: string } | undefined {
    for (const codec of this.codecs) {
      const subprotocol = subprotocolOf(codec);
      if (offered.has(subprotocol)) return { codec, subprotocol };
    }
    return undefined;
  }

  /** The handshake policy: a supported subprotocol, then authenticate(). */
  private async verify(req: IncomingMessage): Promise<boolean | { status: number; message: string }> {
    const header = req.headers['sec-websocket-protocol'];
    const offered = new Set((Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((name) => name.trim()));
    if (this.chooseCodec(offered) === undefined) {
      return { status: 400, message: `Offer one of the subprotocols ${this.codecs.map(subprotocolOf).join(', ')}` };
    }
    const { authenticate } = this.options;
    if (authenticate === undefined) return true;
    let identity;
    try {
      identity = await authenticate(req, extractToken(req));
    } catch (error) {
      this.emitError(error);
      return { status: 503, message: 'Authentication is unavailable' };
    }
    if (identity === null || identity === undefined) return false; // 401
    this.identities.set(req, identity);
    return true;
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    const codec = this.codecs.find((candidate) => subprotocolOf(candidate) === ws.protocol);
    if (codec === undefined || this.closing !== null) return void ws.close(CloseCode.GOING_AWAY, 'not accepting sessions');
    const identity = this.identities.get(req);
    const remoteAddress = req.socket.remoteAddress;
    const info: SessionInfo = Object.freeze({
      id: randomUUID(),
      ...(identity !== undefined ? { userId: identity.userId, ...(identity.info !== undefined ? { info: identity.info } : {}) } : {}),
      ...(remoteAddress !== undefined ? { remoteAddress } : {}),
    });
    const transport = new WebSocketTransport(ws, codec.name);
    const session = new Session(info, transport, codec, this.environment, (closed, code) => this.onSessionClosed(closed, code));
    this.live.set(info.id, session);
    this.infos.set(info.id, info);
    session.start();
    if (!session.closed) this.emit('session', info);
  }

  private onSessionClosed(session: Session, code: number): void {
    if (this.live.get(session.id) !== session) return;
    this.live.delete(session.id);
    this.infos.delete(session.id);
    this.emit('sessionClosed', session.info, code);
  }

  private emitError(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}
