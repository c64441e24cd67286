// RealtimeClient: the reconnecting client of the messaging layer (docs/protocol.md), one code base
// for browsers and Node over the browser WebSocket API. It owns the connection's life (backoff,
// heartbeat, state events) and routes frames; queues and per-channel state live in its helpers.

import { CloseCode } from '../protocol/close-codes.js';
import { Backoff, DEFAULT_BACKOFF, fullJitterMs } from './backoff.js';
import { channelNameProblem } from './channel-name.js';
import { ABNORMAL_CLOSE_CODE, ClientConnection, type ConnectionLink } from './client-connection.js';
import { ClientHeartbeat, DEFAULT_HEARTBEAT_TIMEOUT_MS } from './client-heartbeat.js';
import { ClientPublisher } from './client-publisher.js';
import { ClientRpcHandlers } from './client-rpc-handlers.js';
import { canTransition, ClientState, type StateInfo } from './client-state.js';
import type { ClientSubscription, SubscribeOptions } from './client-subscription.js';
import { ClientSubscriptions } from './client-subscriptions.js';
import { globalTimers, type ClientTimers } from './client-timers.js';
import { jsonCodec, type Codec } from './codec.js';
import { PROTOCOL_VERSION, type ClientFrame, type PresenceMember, type PublishResult, type ServerFrame } from './envelope.js';
import { decodePresenceMembers } from './envelope-decoder.js';
import { PendingRequests, type RequestFrame } from './pending-requests.js';
import {
  CLIENT_DEFAULTS, type AnyChannels, type AnyMethods, type CallOptions, type ClientEvents, type HandlerContext, type MethodSpec,
  type RealtimeClientOptions,
} from './realtime-client-options.js';
import { RealtimeError, RealtimeErrorCode, shouldReconnect } from './realtime-errors.js';
import type { WebSocketConstructor } from './transport.js';
import { TypedEmitter } from './typed-emitter.js';

/**
 * A reconnecting client. `C` maps channel names to payload types, `M` the server methods it calls,
 * `H` the methods it handles for the server. It connects at once; watch `on('state', …)`.
 *
 * Guarantees (docs/guarantees.md): each publication of a subscribed channel is delivered once and
 * in offset order across reconnects (`subscribed` says recovered:false when history could not cover
 * a gap); each publish resolves once with its { epoch, offset } and appears once in its channel.
 */
export class RealtimeClient<
  C extends { [K in keyof C]: unknown } = AnyChannels,
  M extends { [K in keyof M]: MethodSpec } = AnyMethods,
  H extends { [K in keyof H]: MethodSpec } = AnyMethods,
> extends TypedEmitter<ClientEvents> {
  private readonly WebSocketClass: WebSocketConstructor;
  private readonly codec: Codec;
  private readonly timers: ClientTimers;
  private readonly backoff: Backoff;
  private readonly heartbeat: ClientHeartbeat;
  private readonly publisher: ClientPublisher;
  private readonly pending: PendingRequests;
  private readonly rpcHandlers: ClientRpcHandlers;
  private readonly subscriptions: ClientSubscriptions;
  private currentState: ClientState = ClientState.DISCONNECTED;
  private connection: ClientConnection | null = null;
  /** The current connection got its hello: frames may be sent. */
  private live = false;
  private sessionId: string | null = null;
  private lastRequestId = 0;
  /** Invalidates a connect attempt still waiting for its token. */
  private generation = 0;
  private connectTimer: unknown = null;
  private reconnectTimer: unknown = null;

  constructor(
    private readonly url: string,
    private readonly options: RealtimeClientOptions = {},
  ) {
    super();
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WebSocketClass === undefined) throw new TypeError('no WebSocket class: pass options.WebSocket');
    this.WebSocketClass = WebSocketClass;
    this.codec = options.codec ?? jsonCodec;
    this.timers = options.timers ?? globalTimers;
    const random = options.random ?? Math.random;
    const { baseMs = DEFAULT_BACKOFF.baseMs, capMs = DEFAULT_BACKOFF.capMs } = options.backoff ?? {};
    this.backoff = new Backoff(options.backoff ?? {}, random, options.now ?? Date.now);
    this.heartbeat = new ClientHeartbeat(this.timers, options.heartbeat?.timeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS,
      () => this.send({ t: 'ping' }), () => this.dropConnection('no pong from the server'));
    const link: ConnectionLink = { isLive: () => this.live, send: (frame) => this.send(frame), nextId: () => this.nextId() };
    this.publisher = new ClientPublisher(options.maxQueuedPublishes ?? CLIENT_DEFAULTS.maxQueuedPublishes, options.maxInFlightPublishes ?? CLIENT_DEFAULTS.maxInFlightPublishes, link, this.timers,
      (retry) => fullJitterMs(random, baseMs, capMs, retry));
    this.subscriptions = new ClientSubscriptions(options.maxSubscriptions ?? CLIENT_DEFAULTS.maxSubscriptions, link, (channel) => this.presenceOf(channel),
      this.timers, (attempt) => fullJitterMs(random, baseMs, capMs, attempt));
    const maxPending = options.maxPendingRequests ?? CLIENT_DEFAULTS.maxPendingRequests;
    this.pending = new PendingRequests(maxPending, this.timers);
    this.rpcHandlers = new ClientRpcHandlers(options.maxHandlers ?? CLIENT_DEFAULTS.maxHandlers, maxPending);
    this.connect();
  }

  /** 'connecting' | 'connected' | 'disconnected' | 'closed'. */
  get state(): ClientState {
    return this.currentState;
  }

  /** The server's session id of the current (or last) connection; null before the first hello. */
  get session(): string | null {
    return this.sessionId;
  }

  /** Publishes waiting for an ack (the offline queue). */
  get queuedPublishes(): number {
    return this.publisher.size;
  }

  /**
   * Subscribes to `channel` now (returns before the server answers) and again after every
   * reconnect, recovering from the last position delivered. `since` starts from a known position
   * (e.g. where the application's history request left off): what came after it is replayed first,
   * or `recovered: false` says history no longer covers it. Throws ALREADY_SUBSCRIBED for a channel
   * subscribed already, QUEUE_FULL past maxSubscriptions, BAD_REQUEST for a malformed `since`,
   * CLIENT_CLOSED after close().
   */
  subscribe<K extends keyof C & string>(channel: K, options: SubscribeOptions = {}): ClientSubscription<C[K]> {
    if (this.currentState === ClientState.CLOSED) throw closedError();
    const problem = channelNameProblem(channel);
    if (problem !== undefined) throw new RealtimeError(RealtimeErrorCode.BAD_REQUEST, `channel name ${problem}`);
    const { since } = options;
    if (since !== undefined && !(typeof since.epoch === 'string' && Number.isSafeInteger(since.offset) && since.offset >= 0)) {
      throw new RealtimeError(RealtimeErrorCode.BAD_REQUEST, 'since must be { epoch: string, offset: integer >= 0 }');
    }
    return this.subscriptions.add<C[K]>(channel, options);
  }

  /**
   * Publishes `data`; resolves with its { epoch, offset } once the broker accepted it. Offline, it
   * waits in the bounded queue and goes out in order after the next connect (after a drop again,
   * with the same publish id, so it appears once). While the server's broker is down
   * (BROKER_UNAVAILABLE) it is sent again after a backoff, like a rate-limited one. Rejects with
   * QUEUE_FULL past maxQueuedPublishes, with a non-retryable error reply (FORBIDDEN, BAD_REQUEST …),
   * or with CLIENT_CLOSED.
   */
  publish<K extends keyof C & string>(channel: K, data: C[K]): Promise<PublishResult> {
    if (this.currentState === ClientState.CLOSED) return Promise.reject(closedError());
    const problem = channelNameProblem(channel);
    if (problem !== undefined) return Promise.reject(new RealtimeError(RealtimeErrorCode.BAD_REQUEST, `channel name ${problem}`));
    return this.publisher.publish(channel, data);
  }

  /**
   * Calls a server method; waits for a connection when offline. Rejects with the server's error
   * (UNKNOWN_METHOD, HANDLER_ERROR …), RPC_TIMEOUT, CANCELLED (options.signal), CONNECTION_LOST
   * (sent, then the connection dropped: it may have run), QUEUE_FULL or CLIENT_CLOSED.
   */
  call<K extends keyof M & string>(method: K, params: M[K]['params'], options: CallOptions = {}): Promise<M[K]['result']> {
    return this.request({ t: 'rpc', id: this.nextId(), method, params }, options) as Promise<M[K]['result']>;
  }

  /**
   * Handles the server's calls to `method` (a second handler replaces the first). A thrown
   * RealtimeError goes back with its code, anything else as HANDLER_ERROR. Returns the remover.
   * Throws QUEUE_FULL past maxHandlers.
   */
  handle<K extends keyof H & string>(
    method: K,
    handler: (params: H[K]['params'], context: HandlerContext) => H[K]['result'] | Promise<H[K]['result']>,
  ): () => void {
    return this.rpcHandlers.register(method, handler);
  }

  /**
   * While 'disconnected' (waiting out the backoff), connects at once: for when the application
   * knows the network is back (the browser's `online` event, a tab shown again). Otherwise a no-op.
   */
  reconnectNow(): void {
    if (this.currentState !== ClientState.DISCONNECTED || this.reconnectTimer === null) return;
    this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.connect();
  }

  /** Closes for good: state 'closed'; waiting publishes and requests reject with CLIENT_CLOSED. */
  close(): void {
    if (this.currentState === ClientState.CLOSED) return;
    this.connection?.drop('client closed');
    this.shutdown(1000, 'client closed', 'the client was closed');
  }

  // ---- connection life ----

  private connect(): void {
    const generation = ++this.generation;
    this.setState(ClientState.CONNECTING, { attempt: this.backoff.attempts });
    const { token } = this.options;
    if (typeof token !== 'function') return this.open(generation, token);
    Promise.resolve()
      .then(token)
      .then(
        (value) => this.open(generation, value),
        (error: unknown) => {
          if (generation === this.generation) this.lost(ABNORMAL_CLOSE_CODE, `token: ${errorMessage(error)}`);
        },
      );
  }

  private open(generation: number, token: string | undefined): void {
    if (generation !== this.generation) return;
    const url = token === undefined ? this.url : `${this.url}${this.url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
    try {
      this.connection = new ClientConnection(url, this.codec, this.WebSocketClass, {
        frame: (frame) => this.receive(frame),
        invalidFrame: (reason) => this.emit('error', new RealtimeError(RealtimeErrorCode.BAD_REQUEST, `invalid frame from the server: ${reason}`)),
        close: (code, reason) => this.lost(code, reason),
      });
    } catch (error) {
      return this.lost(ABNORMAL_CLOSE_CODE, errorMessage(error));
    }
    const timeoutMs = this.options.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs;
    this.connectTimer = this.timers.setTimeout(() => this.dropConnection(`no hello within ${timeoutMs} ms`), timeoutMs);
  }

  /** Gives up the current connection (no pong, no hello: as if it had failed with 1006; a protocol mismatch: 1002). */
  private dropConnection(reason: string, code: number = ABNORMAL_CLOSE_CODE): void {
    this.connection?.drop(reason);
    this.lost(code, reason);
  }

  /** The connection ended or an attempt failed: reconnect or not, decided by shouldReconnect only. */
  private lost(code: number, reason: string): void {
    this.detach();
    this.pending.connectionLost(new RealtimeError(RealtimeErrorCode.CONNECTION_LOST, `the connection closed (${code}) before the answer came`));
    if (!shouldReconnect(code, false)) return this.shutdown(code, reason, `the server ended the session (${code} ${reason})`);
    const delayMs = this.backoff.nextDelayMs();
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delayMs);
    this.setState(ClientState.DISCONNECTED, { code, reason, reconnectInMs: delayMs });
  }

  /** Forgets everything tied to the current connection. */
  private detach(): void {
    this.connection = null;
    this.live = false;
    this.timers.clearTimeout(this.connectTimer);
    this.heartbeat.stop();
    this.publisher.connectionLost();
    this.subscriptions.connectionLost();
    this.rpcHandlers.cancelAll();
  }

  private shutdown(code: number, reason: string, message: string): void {
    this.generation += 1;
    this.detach();
    this.timers.clearTimeout(this.reconnectTimer);
    const error = new RealtimeError(RealtimeErrorCode.CLIENT_CLOSED, message);
    this.publisher.rejectAll(error);
    this.pending.rejectAll(error);
    this.setState(ClientState.CLOSED, { code, reason });
  }

  private setState(state: ClientState, info: StateInfo): void {
    if (!canTransition(this.currentState, state)) throw new Error(`bug: state ${this.currentState} -> ${state}`);
    this.currentState = state;
    this.emit('state', state, info);
  }

  // ---- frames ----

  private receive(frame: ServerFrame): void {
    switch (frame.t) {
      case 'hello': return this.hello(frame);
      case 'pub': return this.subscriptions.publication(frame);
      case 'result': return this.reply(frame.id, null, frame.result);
      case 'error': return this.reply(frame.id, RealtimeError.fromInfo(frame.error), undefined);
      case 'join':
      case 'leave': return this.subscriptions.presence(frame.t, frame.channel, frame.member);
      case 'rpc': {
        const connection = this.connection;
        return void this.rpcHandlers.run(frame.id, frame.method, frame.params, (answer) => {
          if (this.connection === connection && !this.send(answer)) this.send({ t: 'error', id: frame.id, error: { code: RealtimeErrorCode.INTERNAL, message: 'the result could not be encoded' } });
        });
      }
      case 'cancel': return this.rpcHandlers.cancel(frame.id);
      case 'unsubscribed': return this.subscriptions.unsubscribed(frame.channel, RealtimeError.fromInfo(frame.reason));
      case 'pong': return this.heartbeat.pong();
      default: {
        const unexpected: never = frame;
        throw new Error(`unhandled frame ${(unexpected as { t: string }).t}`);
      }
    }
  }

  private hello(frame: Extract<ServerFrame, { t: 'hello' }>): void {
    if (this.live) return;
    if (frame.version !== PROTOCOL_VERSION) return this.dropConnection(`unsupported protocol version ${frame.version}`, CloseCode.PROTOCOL_ERROR);
    this.timers.clearTimeout(this.connectTimer);
    this.live = true;
    this.sessionId = frame.session;
    this.backoff.connected();
    this.subscriptions.resubscribeAll();
    this.publisher.flush();
    for (const request of this.pending.unsent()) this.sendRequest(request);
    this.heartbeat.start(frame.heartbeatMs);
    this.setState(ClientState.CONNECTED, { session: frame.session });
  }

  /** A `result` or `error` for one of our requests: a subscribe, a publish or a call. */
  private reply(id: number, error: RealtimeError | null, result: unknown): void {
    if (!this.subscriptions.reply(id, error, result) && !this.publisher.reply(id, error, result)) this.pending.settle(id, error, result);
  }

  private async presenceOf(channel: string): Promise<PresenceMember[]> {
    const value = await this.request({ t: 'presence', id: this.nextId(), channel }, {});
    // docs/protocol.md says an array; the server answers { members: [...] }: both are accepted.
    const members = decodePresenceMembers(Array.isArray(value) ? value : (value as { members?: unknown } | null)?.members);
    if (members.ok) return members.result;
    throw new RealtimeError(RealtimeErrorCode.INTERNAL, `malformed presence result: ${members.reason}`);
  }

  private request(frame: RequestFrame, options: CallOptions): Promise<unknown> {
    if (this.currentState === ClientState.CLOSED) return Promise.reject(closedError());
    const answer = this.pending.open(frame, {
      timeoutMs: options.timeoutMs ?? this.options.requestTimeoutMs ?? CLIENT_DEFAULTS.requestTimeoutMs,
      signal: options.signal,
      onGiveUp: (id) => {
        if (this.live) this.send({ t: 'cancel', id });
      },
    });
    if (this.live && this.pending.has(frame.id)) this.sendRequest(frame);
    return answer;
  }

  private sendRequest(frame: RequestFrame): void {
    if (this.send(frame)) this.pending.markSent(frame.id);
    else this.pending.settle(frame.id, new RealtimeError(RealtimeErrorCode.BAD_REQUEST, 'the request could not be encoded'));
  }

  /** Sends a frame on the current connection; false when the codec could not encode it. */
  private send(frame: ClientFrame): boolean {
    try {
      this.connection?.send(frame);
      return true;
    } catch {
      return false;
    }
  }

  private nextId(): number {
    this.lastRequestId = this.lastRequestId >= Number.MAX_SAFE_INTEGER ? 1 : this.lastRequestId + 1;
    return this.lastRequestId;
  }
}

function closedError(): RealtimeError {
  return new RealtimeError(RealtimeErrorCode.CLIENT_CLOSED, 'the client is closed');
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
