// One connection of the messaging layer: decode → rate limit → dispatch → encode. It owns the
// per-session publish chain (a client's publishes reach the broker in its send order), the bound
// on requests in flight, and the outbound bound (a slow consumer is closed with 1013, or loses
// publications of volatile channels). It works on a TransportConnection, never on a WebSocket.

import { CloseCode } from '../protocol/close-codes.js';
import { BrokerError, type Broker } from './broker.js';
import type { ChannelFanout } from './channel-fanout.js';
import type { Codec } from './codec.js';
import type { EncodedFrame } from './encoded-frame.js';
import { decodeClientFrame } from './envelope-decoder.js';
import type { PublicationBatch } from './publication-batch.js';
import { PROTOCOL_VERSION, type ClientFrame, type ErrorInfo, type PublicationFrame, type ServerFrame } from './envelope.js';
import { RateLimiter, RateVerdict, type RateLimit } from './rate-limiter.js';
import { RealtimeError, RealtimeErrorCode } from './realtime-errors.js';
import { RpcCalls } from './rpc-calls.js';
import type { RpcRegistry } from './rpc-registry.js';
import { ServerRpc, type ServerCallOptions } from './server-rpc.js';
import { SessionChannels, messageOf, type ChannelPolicy } from './session-channels.js';
import type { SessionInfo } from './session-info.js';
import type { TransportConnection } from './transport.js';

type PubFrame = Extract<ClientFrame, { t: 'pub' }>;

/** What is being sent, for the outbound bound. */
const Outbound = { PUBLICATION: 'publication', VOLATILE: 'volatile', OTHER: 'other' } as const;
type Outbound = (typeof Outbound)[keyof typeof Outbound];

/** Per-session bounds (every queue has an owner, a bound and an overflow policy). */
export interface SessionLimits {
  /** Client requests (sub, unsub, pub, rpc, presence) accepted and not yet answered; more get RATE_LIMITED. Also bounds server calls waiting on this client. */
  maxPendingRequests: number;
  /** Channels subscribed at once; more get BAD_REQUEST. */
  maxSubscriptions: number;
  /** Publications (and presence events) held per subscription while history is read; past it the session is closed with 1013 (volatile channels drop). */
  maxBufferedPublications: number;
}

export const DEFAULT_SESSION_LIMITS: Readonly<SessionLimits> = Object.freeze({
  maxPendingRequests: 1024,
  maxSubscriptions: 1024,
  maxBufferedPublications: 10_000,
});

/** What every session of one server shares. */
export interface SessionEnvironment {
  readonly broker: Broker;
  readonly fanout: ChannelFanout;
  readonly rpc: RpcRegistry;
  readonly channelPolicy: Omit<ChannelPolicy, 'maxSubscriptions' | 'maxBufferedPublications'>;
  readonly canPublish: ((session: SessionInfo, channel: string, data: unknown) => boolean | Promise<boolean>) | undefined;
  readonly rateLimit: RateLimit | undefined;
  readonly now: () => number;
  readonly maxOutboundBytes: number;
  readonly heartbeatMs: number;
  readonly rpcTimeoutMs: number;
  readonly limits: SessionLimits;
}

export class Session {
  private closedWith: number | null = null;
  private pendingRequests = 0;
  private publishTail: Promise<void> = Promise.resolve();
  /** A publish refused (rate limit, broker down), until it is sent again (see inPublishOrder). */
  private refusedPublish: { pid: string; code: RealtimeErrorCode } | null = null;
  private readonly limiter: RateLimiter | null;
  private readonly channels: SessionChannels;
  private readonly rpcCalls: RpcCalls;
  private readonly serverRpc: ServerRpc;
  /** Settles once the session released everything it held in the broker. */
  released: Promise<void> = Promise.resolve();
  /** Publications of volatile channels dropped because the client was slow. */
  droppedPublications = 0;

  constructor(
    readonly info: SessionInfo,
    private readonly transport: TransportConnection,
    private readonly codec: Codec,
    private readonly env: SessionEnvironment,
    private readonly onClosed: (session: Session, code: number) => void,
  ) {
    this.limiter = env.rateLimit === undefined ? null : new RateLimiter(env.rateLimit, env.now);
    const replier = { result: (id: number, result: unknown) => this.result(id, result), error: (id: number, error: ErrorInfo) => this.error(id, error) };
    this.channels = new SessionChannels(info, env.broker, env.fanout, { ...env.channelPolicy, ...env.limits }, {
      ...replier,
      send: (frame) => this.send(frame),
      deliver: (publication, volatile) => this.deliver(publication, volatile),
      deliverBatch: (batch) => this.deliverBatch(batch),
      overflow: () => this.close(CloseCode.TRY_AGAIN_LATER, 'slow consumer: too much waiting for this connection'),
      hasRoom: () => this.hasRoom(),
      whenRoom: (resume) => this.whenRoom(resume),
    });
    this.rpcCalls = new RpcCalls(env.rpc, info, env.rpcTimeoutMs, replier);
    this.serverRpc = new ServerRpc((frame) => this.send(frame), env.rpcTimeoutMs, env.limits.maxPendingRequests);
    transport.onMessage = (message) => this.onMessage(message);
    transport.onClose = (code) => this.ended(code);
  }

  get id(): string {
    return this.info.id;
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  /** Greets the client; call once, right after construction. */
  start(): void {
    this.send({ t: 'hello', version: PROTOCOL_VERSION, session: this.info.id, heartbeatMs: this.env.heartbeatMs });
  }

  /** Server-initiated RPC: resolves with the client's result, rejects with its error, RPC_TIMEOUT, CANCELLED or CLIENT_CLOSED. */
  call(method: string, params: unknown, options?: ServerCallOptions): Promise<unknown> {
    return this.serverRpc.call(method, params, options);
  }

  /** Closes the connection with `code` and releases the session at once (the closing handshake may take longer). */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.transport.close(code, reason);
    this.ended(code);
  }

  // ---- inbound ----

  private onMessage(message: string | Uint8Array): void {
    if (this.closed) return;
    let value: unknown;
    try {
      value = this.codec.decode(message);
    } catch {
      return this.close(CloseCode.INVALID_PAYLOAD, `undecodable ${this.codec.name} message`);
    }
    const decoded = decodeClientFrame(value);
    // Answers to our own calls are bounded by our own calls: they do not count against the client.
    if (decoded.ok && (decoded.frame.t === 'result' || decoded.frame.t === 'error')) {
      const { frame } = decoded;
      if (this.serverRpc.answer(frame.id, frame.t === 'result' ? { result: frame.result } : { error: frame.error })) return;
    }
    if (!this.admit(decoded.ok ? requestIdOf(decoded.frame) : decoded.id)) {
      if (decoded.ok && decoded.frame.t === 'pub') this.refuseInPublishOrder(decoded.frame.pid);
      return;
    }
    if (!decoded.ok) {
      if (decoded.id === undefined) return this.close(CloseCode.POLICY_VIOLATION, truncate(`bad frame: ${decoded.reason}`));
      return this.error(decoded.id, { code: RealtimeErrorCode.BAD_REQUEST, message: decoded.reason });
    }
    this.dispatch(decoded.frame);
  }

  /** A publish refused by the rate limit: marked after the publishes admitted before it have run. */
  private refuseInPublishOrder(pid: string): void {
    this.publishTail = this.publishTail.then(() => {
      this.refusedPublish ??= { pid, code: RealtimeErrorCode.RATE_LIMITED };
    });
  }

  /**
   * A client's publishes keep their send order: after one was refused (RATE_LIMITED, or
   * BROKER_UNAVAILABLE), later ones already in flight are refused with the same code, until the
   * refused one is sent again. Checked in publish order, so a broker back between two of them
   * cannot take the later one first.
   */
  private inPublishOrder(id: number, pid: string): boolean {
    const refused = this.refusedPublish;
    if (refused === null) return true;
    if (pid === refused.pid) {
      this.refusedPublish = null;
      return true;
    }
    this.error(id, { code: refused.code, message: 'An earlier publish was refused: send it again first' });
    return false;
  }

  /** The rate limit: true to go on; otherwise answered RATE_LIMITED (when there is a request id) or closed. */
  private admit(requestId: number | undefined): boolean {
    if (this.limiter === null) return true;
    switch (this.limiter.take()) {
      case RateVerdict.ALLOWED:
        return true;
      case RateVerdict.LIMITED:
        if (requestId !== undefined) this.error(requestId, { code: RealtimeErrorCode.RATE_LIMITED, message: 'Too many requests: slow down' });
        return false;
      case RateVerdict.ABUSIVE:
        // 1013, not 1008: the client reconnects after its backoff with its unacknowledged publishes kept.
        this.close(CloseCode.TRY_AGAIN_LATER, 'rate limit exceeded repeatedly');
        return false;
    }
  }

  private dispatch(frame: ClientFrame): void {
    switch (frame.t) {
      case 'sub':
        return this.track(frame.id, () => this.channels.subscribe(frame));
      case 'unsub':
        return this.track(frame.id, () => this.channels.unsubscribe(frame));
      case 'presence':
        return this.track(frame.id, () => this.channels.members(frame));
      case 'pub':
        return this.track(frame.id, () => this.enqueuePublish(frame));
      case 'rpc':
        return this.track(frame.id, () => this.rpcCalls.run(frame.id, frame.method, frame.params));
      case 'cancel':
        this.rpcCalls.cancel(frame.id);
        return;
      case 'result':
      case 'error':
        return; // a late answer: the call already timed out or was cancelled
      case 'ping':
        return this.send({ t: 'pong' });
      default:
        return assertNever(frame);
    }
  }

  /** Runs a request unless too many are in flight; `operation` settles once it answered. */
  private track(id: number, operation: () => Promise<void>): void {
    if (this.pendingRequests >= this.env.limits.maxPendingRequests) {
      return this.error(id, { code: RealtimeErrorCode.RATE_LIMITED, message: `${this.env.limits.maxPendingRequests} requests are already in flight` });
    }
    this.pendingRequests++;
    operation()
      .catch((error: unknown) => this.error(id, { code: RealtimeErrorCode.INTERNAL, message: messageOf(error) }))
      .finally(() => this.pendingRequests--);
  }

  /** One publish at a time per session: the broker sees them in the client's send order. */
  private enqueuePublish(frame: PubFrame): Promise<void> {
    const run = this.publishTail.then(() => this.publish(frame));
    this.publishTail = run;
    return run;
  }

  private async publish(frame: PubFrame): Promise<void> {
    if (this.closed) return; // the client resends unacknowledged publishes after reconnecting
    const { id, channel, data, pid } = frame;
    if (!this.inPublishOrder(id, pid)) return;
    const { canPublish } = this.env;
    try {
      if (canPublish !== undefined && !(await canPublish(this.info, channel, data))) {
        return this.error(id, { code: RealtimeErrorCode.FORBIDDEN, message: `Not allowed to publish to "${channel}"` });
      }
    } catch (error) {
      return this.error(id, { code: RealtimeErrorCode.INTERNAL, message: `canPublish failed: ${messageOf(error)}` });
    }
    let accepted;
    try {
      accepted = await this.env.broker.publish(channel, data, { pid });
    } catch (error) {
      // Only a broker that says it is unavailable earns a retry; anything else would fail again.
      if (!(error instanceof BrokerError)) return this.error(id, { code: RealtimeErrorCode.INTERNAL, message: `The broker failed the publish: ${messageOf(error)}` });
      this.refusedPublish = { pid, code: RealtimeErrorCode.BROKER_UNAVAILABLE };
      return this.error(id, { code: RealtimeErrorCode.BROKER_UNAVAILABLE, message: `Not accepted: ${messageOf(error)}` });
    }
    this.result(id, { epoch: accepted.epoch, offset: accepted.offset });
  }

  // ---- outbound ----

  private result(id: number, result: unknown): void {
    this.send({ t: 'result', id, result });
  }

  private error(id: number, error: ErrorInfo): void {
    this.send({ t: 'error', id, error });
  }

  send(frame: ServerFrame): void {
    if (this.closed) return;
    let message: string | Uint8Array;
    try {
      message = this.codec.encode(frame);
    } catch (error) {
      if (frame.t !== 'result') return this.close(CloseCode.INTERNAL_ERROR, `a ${frame.t} frame could not be encoded`);
      // A handler's result the codec cannot carry: the caller gets an error instead of nothing.
      return this.error(frame.id, { code: RealtimeErrorCode.INTERNAL, message: `The result could not be encoded: ${messageOf(error)}` });
    }
    this.transmit(message, Outbound.OTHER);
  }

  private deliver(publication: EncodedFrame<PublicationFrame>, volatile: boolean): void {
    if (this.closed) return;
    let message: string | Uint8Array;
    try {
      message = publication.encode(this.codec);
    } catch {
      return this.close(CloseCode.INTERNAL_ERROR, `a publication of "${publication.frame.channel}" cannot be encoded as ${this.codec.name}`);
    }
    this.transmit(message, volatile ? Outbound.VOLATILE : Outbound.PUBLICATION, publication.shared(this.codec));
  }

  /**
   * A batch of publications in one write, when the whole batch fits under the outbound bound: then
   * each publication would have passed transmit()'s check one by one, so the outcome is the same.
   * Otherwise (or when the transport cannot send batches, or a codec fails) false: one by one.
   */
  private deliverBatch(batch: PublicationBatch): boolean {
    if (this.closed) return true;
    const transport = this.transport;
    if (transport.sendSharedBatch === undefined) return false;
    let encoded;
    try {
      encoded = batch.encode(this.codec);
    } catch {
      return false; // deliver() reports which publication cannot be encoded
    }
    if (transport.bufferedAmount + encoded.bytes > this.env.maxOutboundBytes) return false;
    transport.sendSharedBatch(encoded.messages, encoded.shared);
    return true;
  }

  /**
   * The outbound bound, checked before each send. Past maxOutboundBytes a publication closes the
   * session with 1013, or is dropped on a volatile channel. Other frames (replies, pongs, presence
   * events, calls) are few and answer the client's own requests: they get headroom up to twice
   * the bound, so that a client catching up after a volatile stall can still ping.
   */
  private transmit(message: string | Uint8Array, kind: Outbound, shared?: Map<string, unknown>): void {
    const buffered = this.transport.bufferedAmount;
    const bound = kind === Outbound.OTHER ? 2 * this.env.maxOutboundBytes : this.env.maxOutboundBytes;
    if (buffered > bound) {
      if (kind === Outbound.VOLATILE) {
        this.droppedPublications++;
        return;
      }
      return this.close(CloseCode.TRY_AGAIN_LATER, 'slow consumer: outbound buffer full');
    }
    if (shared !== undefined && this.transport.sendShared !== undefined) this.transport.sendShared(message, shared);
    else this.transport.send(message);
  }

  /** Room for a replay to send more: the outbound buffer below half its bound. */
  private hasRoom(): boolean {
    return this.transport.bufferedAmount <= this.env.maxOutboundBytes / 2;
  }

  /** Calls `resume` once there is room, as the transport reports its buffer draining. */
  private whenRoom(resume: () => void): void {
    const check = (): void => {
      if (this.closed) return;
      if (this.hasRoom()) resume();
      else this.transport.whenBufferedAtMost(this.env.maxOutboundBytes / 2, check);
    };
    check();
  }

  // ---- end ----

  private ended(code: number): void {
    if (this.closed) return;
    this.closedWith = code;
    this.transport.onMessage = null;
    this.rpcCalls.abortAll();
    this.serverRpc.close(new RealtimeError(RealtimeErrorCode.CLIENT_CLOSED, `The session closed with ${code}`));
    this.released = this.channels.close().catch(() => {});
    this.onClosed(this, code);
  }
}

/** The id an error reply may carry for a valid frame: requests only (answers and cancels carry the other side's ids). */
function requestIdOf(frame: ClientFrame): number | undefined {
  switch (frame.t) {
    case 'sub':
    case 'unsub':
    case 'pub':
    case 'rpc':
    case 'presence':
      return frame.id;
    case 'cancel':
    case 'result':
    case 'error':
    case 'ping':
      return undefined;
    default:
      return assertNever(frame);
  }
}

/** Close reasons are at most 123 UTF-8 bytes (RFC 6455 §5.5). */
function truncate(reason: string): string {
  let cut = reason;
  while (Buffer.byteLength(cut, 'utf8') > 123) cut = cut.slice(0, -1);
  return cut;
}

function assertNever(value: never): never {
  throw new Error(`unexpected frame ${JSON.stringify(value)}`);
}
