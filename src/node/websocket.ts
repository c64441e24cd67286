// The WebSocket class: the browser API (WHATWG WebSockets) for clients, plus the `ws`-style
// Node API (`on('message', (data, isBinary))`, send callbacks, ping, terminate). The same class
// represents each connection a WebSocketServer accepts.

import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { CloseCode, MAX_CLOSE_REASON_BYTES, isUserSettable, isWireValid } from '../protocol/close-codes.js';
import { ConnectionState } from '../protocol/connection.js';
import { InvalidAccessError, InvalidStateError, LimitExceededError, SyntaxError, type PeerError } from '../protocol/errors.js';
import { resolveLimits, type Limits } from '../protocol/limits.js';
import type { DeflateOptions } from '../protocol/permessage-deflate.js';
import { SocketDriver, type DriverOptions, type DriverOwner, type SendCallback } from './socket-driver.js';
import { PerMessageDeflate } from './deflate.js';
import type { PreparedMessage } from './prepared-message.js';
import { CloseEvent, ErrorEvent, binaryMessageData, type BinaryType } from './whatwg-events.js';
import { connectClient, type ClientOptions } from './client-handshake.js';
import { LazyEventTarget } from './lazy-event-target.js';
import { newListenerTable } from './listener-table.js';
import type { DeflateParams } from '../protocol/permessage-deflate.js';

export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** What a server (or the client handshake) hands over once the opening handshake succeeded. */
export interface EstablishedSocket {
  socket: Duplex;
  head: Buffer;
  role: 'server' | 'client';
  protocol: string;
  extensions: string;
  deflate: { params: DeflateParams; options: DeflateOptions } | null;
  limits: Limits;
}

export type SendData = string | Buffer | ArrayBuffer | ArrayBufferView | Blob;
export interface SendOptions {
  binary?: boolean;
  compress?: boolean;
}

/** Internal: the option by which a server hands an accepted connection to the constructor. */
export const ACCEPTED = Symbol('tidewire.accepted');

export interface WebSocketOptions extends ClientOptions {
  [ACCEPTED]?: EstablishedSocket;
}

type WhatwgType = 'open' | 'message' | 'error' | 'close';
type Handler = ((event: any) => void) | null;
type Listener = (...args: any[]) => void;

/** The browser API's on<event> handlers and how many listeners each event has (created on first use). */
interface WhatwgListeners {
  handlers: Record<WhatwgType, Handler>;
  counts: Record<WhatwgType, number>;
}

// The ws-style API runs on EventEmitter's own methods, applied to the WebSocket itself: they keep
// their table in `_events` (a ListenerTable, created with the first listener), so a WebSocket needs
// no emitter object.
const { on, once, removeListener, removeAllListeners, listenerCount, emit } = EventEmitter.prototype;

/** Default threshold below which negotiated compression is skipped. */
const DEFAULT_DEFLATE_THRESHOLD_BYTES = 128;

export class WebSocket extends LazyEventTarget implements DriverOwner {
  static readonly CONNECTING = ReadyState.CONNECTING;
  static readonly OPEN = ReadyState.OPEN;
  static readonly CLOSING = ReadyState.CLOSING;
  static readonly CLOSED = ReadyState.CLOSED;
  /** `new WebSocket.Server({ port })` as in the `ws` package; set by server.ts. */
  declare static Server: typeof import('./server.js').WebSocketServer;
  declare static WebSocketServer: typeof import('./server.js').WebSocketServer;
  // On the prototype, as WHATWG defines them (set below the class), not on every instance.
  declare readonly CONNECTING: typeof ReadyState.CONNECTING;
  declare readonly OPEN: typeof ReadyState.OPEN;
  declare readonly CLOSING: typeof ReadyState.CLOSING;
  declare readonly CLOSED: typeof ReadyState.CLOSED;

  readonly url: string;
  readyState: ReadyState = ReadyState.CONNECTING;
  protocol = '';
  extensions = '';
  private binaryKind: BinaryType = 'blob';
  private driver: SocketDriver | null = null;
  private limits: Limits;
  // EventEmitter's fields (see `on` above); undefined until the first listener.
  private _events: Record<string | symbol, unknown> | undefined = undefined;
  private _eventsCount = 0;
  private _maxListeners: number | undefined = undefined;
  private whatwg: WhatwgListeners | null = null;
  /** The server's set of connections, which this one leaves when it closes. */
  private tracker: Set<WebSocket> | null = null;
  /** Bytes passed to send() after the connection closed (WHATWG: they still count). */
  private discardedBytes = 0;
  /** Sends waiting behind a Blob being read, and their size. */
  private deferredSends: Promise<void> | null = null;
  private deferredBytes = 0;

  constructor(url: string | URL, protocols?: string | string[], options: WebSocketOptions = {}) {
    super();
    const accepted = options[ACCEPTED];
    if (accepted !== undefined) {
      this.serverSide = true;
      this.url = String(url);
      this.limits = accepted.limits;
      this.establish(accepted);
      return;
    }
    this.limits = resolveLimits({ ...options.limits, ...(options.maxPayload !== undefined ? { maxMessageBytes: options.maxPayload } : {}) });
    this.url = connectClient(this, url, protocols, options, this.limits);
  }

  // ---- attributes ----

  get binaryType(): BinaryType {
    return this.binaryKind;
  }

  set binaryType(value: BinaryType) {
    if (value === 'blob' || value === 'arraybuffer' || value === 'nodebuffer') this.binaryKind = value;
  }

  /** WHATWG: application bytes queued by send() and not yet transmitted (framing not counted). */
  get bufferedAmount(): number {
    return (this.driver?.unsentPayloadBytes ?? 0) + this.deferredBytes + this.discardedBytes;
  }

  // ---- methods ----

  send(data: SendData, optionsOrCallback?: SendOptions | SendCallback, maybeCallback?: SendCallback): boolean {
    const options = typeof optionsOrCallback === 'object' ? optionsOrCallback : NO_SEND_OPTIONS;
    const callback = typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback;
    if (this.readyState === ReadyState.CONNECTING) throw new InvalidStateError('Cannot send before the connection is open');
    if (data instanceof Blob || this.deferredSends !== null) {
      this.sendAfterPending(data, options, callback);
      return true;
    }
    return this.sendNow(data, options, callback);
  }

  private sendNow(data: Exclude<SendData, Blob>, options: SendOptions, callback: SendCallback | undefined): boolean {
    const { bytes, isBinary } = toPayload(data, options.binary);
    const driver = this.driver;
    if (this.readyState !== ReadyState.OPEN || driver === null || driver.connection.state !== ConnectionState.OPEN) {
      this.discardedBytes += bytes.length; // WHATWG §send: closing or closed, the data is discarded but counted
      if (callback !== undefined) process.nextTick(callback, new InvalidStateError('The connection is not open'));
      return false;
    }
    if (driver.wouldExceed(bytes.length, this.limits.maxBufferedBytes)) {
      const error = new LimitExceededError('maxBufferedBytes', this.limits.maxBufferedBytes, driver.bufferedBytes + bytes.length, CloseCode.TRY_AGAIN_LATER);
      if (callback !== undefined) process.nextTick(callback, error);
      this.closeWith(CloseCode.TRY_AGAIN_LATER, 'outbound buffer full');
      return false;
    }
    return driver.send(bytes, isBinary, options.compress ?? true, callback);
  }

  /**
   * Sends a message framed once by prepareMessage() for many connections (server side only).
   * False when this connection is not open; a connection past maxBufferedBytes is closed with 1013
   * (a slow consumer never holds the others back).
   */
  sendPrepared(prepared: PreparedMessage): boolean {
    if (!this.serverSide) throw new InvalidStateError('sendPrepared() is for server-side connections (client frames are masked)');
    const driver = this.driver;
    if (this.readyState !== ReadyState.OPEN || driver === null) return false;
    if (driver.wouldExceed(prepared.payloadBytes, this.limits.maxBufferedBytes)) {
      this.closeWith(CloseCode.TRY_AGAIN_LATER, 'outbound buffer full');
      return false;
    }
    return driver.sendEncoded(prepared.chunks, prepared.payloadBytes);
  }

  /**
   * tidewire extension: calls `callback` once bufferedAmount is at most `bytes`, on the next tick if
   * it already is. A finer signal than 'drain' (which only follows a send() that returned false),
   * for a producer that paces itself, such as a replay of history. Not called if the connection
   * closes first; a later call replaces an earlier wait.
   */
  whenBufferedAtMost(bytes: number, callback: () => void): void {
    if (typeof bytes !== 'number' || !(bytes >= 0)) throw new RangeError(`whenBufferedAtMost: bytes must be a number >= 0, got ${String(bytes)}`);
    if (typeof callback !== 'function') throw new TypeError('whenBufferedAtMost: callback must be a function');
    if (this.bufferedAmount <= bytes) {
      process.nextTick(() => this.readyState !== ReadyState.CLOSED && callback());
      return;
    }
    // What the driver has not written is the part that drains; the rest (Blobs being read, sends after the close) does not.
    this.driver?.whenUnsentAtMost(bytes - this.deferredBytes - this.discardedBytes, callback);
  }

  ping(data: SendData = Buffer.alloc(0)): void {
    this.control('ping', data);
  }

  pong(data: SendData = Buffer.alloc(0)): void {
    this.control('pong', data);
  }

  /** WHATWG close(): code 1000 or 3000–4999 and a reason of at most 123 UTF-8 bytes. */
  close(code?: number, reason?: string): void {
    if (code !== undefined && !isUserSettable(code) && !(this.isServerSide && isWireValid(code))) {
      throw new InvalidAccessError(`Close code ${code} is not allowed: use 1000 or 3000-4999`);
    }
    const reasonText = reason ?? '';
    if (Buffer.byteLength(reasonText, 'utf8') > MAX_CLOSE_REASON_BYTES) {
      throw new SyntaxError(`The close reason must be at most ${MAX_CLOSE_REASON_BYTES} UTF-8 bytes`);
    }
    if (reasonText !== '' && code === undefined) throw new SyntaxError('A close reason needs a close code');
    this.closeWith(code, reasonText);
  }

  /** Drops the TCP connection at once; the close event reports 1006. */
  terminate(): void {
    if (this.readyState === ReadyState.CLOSED) return;
    if (this.driver === null) return this.abortConnecting();
    this.readyState = ReadyState.CLOSING;
    this.driver.terminate();
  }

  // ---- ws-style events ----

  on(event: string, listener: Listener): this {
    this._events ??= newListenerTable();
    on.call(this, event, listener);
    return this;
  }

  once(event: string, listener: Listener): this {
    this._events ??= newListenerTable();
    once.call(this, event, listener);
    return this;
  }

  off(event: string, listener: Listener): this {
    removeListener.call(this, event, listener);
    return this;
  }

  addListener(event: string, listener: (...args: any[]) => void): this {
    return this.on(event, listener);
  }

  removeListener(event: string, listener: (...args: any[]) => void): this {
    return this.off(event, listener);
  }

  removeAllListeners(event?: string): this {
    removeAllListeners.call(this, event);
    return this;
  }

  listenerCount(event: string): number {
    return listenerCount.call(this, event);
  }

  emit(event: string, ...args: unknown[]): boolean {
    return emit.call(this, event, ...args);
  }

  // ---- WHATWG events ----

  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: AddEventListenerOptions | boolean): void {
    if (isWhatwgType(type) && listener !== null) this.whatwgState().counts[type]++;
    super.addEventListener(type, listener, options);
  }

  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: EventListenerOptions | boolean): void {
    if (isWhatwgType(type) && listener !== null && this.whatwg !== null && this.whatwg.counts[type] > 0) this.whatwg.counts[type]--;
    super.removeEventListener(type, listener, options);
  }

  get onopen(): Handler { return this.whatwg?.handlers.open ?? null; }
  set onopen(handler: Handler) { this.setHandler('open', handler); }
  get onmessage(): Handler { return this.whatwg?.handlers.message ?? null; }
  set onmessage(handler: Handler) { this.setHandler('message', handler); }
  get onerror(): Handler { return this.whatwg?.handlers.error ?? null; }
  set onerror(handler: Handler) { this.setHandler('error', handler); }
  get onclose(): Handler { return this.whatwg?.handlers.close ?? null; }
  set onclose(handler: Handler) { this.setHandler('close', handler); }

  // ---- lifecycle, driven by the handshake and the driver (internal) ----

  /** Set by the client handshake so terminate()/close() can abort it. */
  abortHandshake: (() => void) | undefined;

  /** The opening handshake succeeded (internal). */
  establish(established: EstablishedSocket): void {
    this.protocol = established.protocol;
    this.extensions = established.extensions;
    this.limits = established.limits;
    const deflate = established.deflate === null
      ? null
      : new PerMessageDeflate(established.deflate.params, established.role === 'server', established.deflate.options);
    const driverOptions: DriverOptions =
      deflate === null
        ? uncompressedDriverOptions(established.role, established.limits)
        : { role: established.role, limits: established.limits, deflate, deflateThresholdBytes: established.deflate?.options.threshold ?? DEFAULT_DEFLATE_THRESHOLD_BYTES };
    this.driver = new SocketDriver(established.socket, this, driverOptions);
    this.readyState = ReadyState.OPEN;
  }

  /** Starts reading after 'open'/'connection' listeners had their chance to attach (internal). */
  startReading(head: Buffer): void {
    this.driver?.start(head);
  }

  /** The opening handshake failed (client side, internal): error, then close with 1006. */
  failHandshake(error: Error): void {
    if (this.readyState === ReadyState.CLOSED) return;
    this.readyState = ReadyState.CLOSED;
    this.emitError(error);
    this.emitClose(CloseCode.ABNORMAL, '', false);
  }

  /** Joins the server's set of connections until this one closes (internal). */
  trackIn(connections: Set<WebSocket>): void {
    connections.add(this);
    this.tracker = connections;
  }

  /** The server's heartbeat (internal). */
  get driverForServer(): SocketDriver | null {
    return this.driver;
  }

  get isServerSide(): boolean {
    return this.serverSide;
  }

  private serverSide = false;

  onMessage(data: Buffer, isBinary: boolean): void {
    emit.call(this, 'message', data, isBinary);
    if (this.whatwg !== null && this.whatwg.counts.message > 0) {
      const payload = isBinary ? binaryMessageData(data, this.binaryKind) : data.toString('utf8');
      this.dispatchEvent(new MessageEvent('message', { data: payload, origin: originOf(this.url) }));
    }
  }

  onPing(data: Buffer): void {
    emit.call(this, 'ping', data);
  }

  onPong(data: Buffer): void {
    emit.call(this, 'pong', data);
  }

  onPeerClose(): void {
    this.readyState = ReadyState.CLOSING;
  }

  onFailure(error: PeerError | LimitExceededError): void {
    this.readyState = ReadyState.CLOSING;
    this.emitError(error);
  }

  onDrain(): void {
    emit.call(this, 'drain');
  }

  onClosed(code: number, reason: string, wasClean: boolean): void {
    this.readyState = ReadyState.CLOSED;
    this.tracker?.delete(this);
    this.tracker = null;
    this.emitClose(code, reason, wasClean);
  }

  // ---- internals ----

  private closeWith(code: number | undefined, reason: string): void {
    if (this.readyState === ReadyState.CLOSING || this.readyState === ReadyState.CLOSED) return;
    if (this.driver === null) return this.abortConnecting();
    this.readyState = ReadyState.CLOSING;
    this.driver.close(code, reason);
  }

  /** WHATWG close() while connecting: CLOSING now, the failure (error, close 1006) a tick later. */
  private abortConnecting(): void {
    if (this.readyState !== ReadyState.CONNECTING) return;
    this.readyState = ReadyState.CLOSING;
    process.nextTick(() => this.abortHandshake?.());
  }

  private control(kind: 'ping' | 'pong', data: SendData): void {
    if (this.readyState === ReadyState.CONNECTING) throw new InvalidStateError(`Cannot ${kind} before the connection is open`);
    if (data instanceof Blob) throw new TypeError(`${kind} data cannot be a Blob`);
    const driver = this.driver;
    if (driver === null || driver.connection.state !== ConnectionState.OPEN) return;
    const { bytes } = toPayload(data, true);
    if (kind === 'ping') driver.connection.ping(bytes);
    else driver.connection.pong(bytes);
  }

  /**
   * Blobs are read asynchronously; while one is being read, later sends wait behind it so the
   * order of send() calls is the order on the wire.
   */
  private sendAfterPending(data: SendData, options: SendOptions, callback: SendCallback | undefined): void {
    const size = data instanceof Blob ? data.size : typeof data === 'string' ? Buffer.byteLength(data) : toPayload(data, true).bytes.length;
    this.deferredBytes += size;
    const previous = this.deferredSends ?? Promise.resolve();
    const current = previous
      .then(async () => {
        const payload = data instanceof Blob ? Buffer.from(await data.arrayBuffer()) : data;
        this.deferredBytes -= size;
        this.sendNow(payload, data instanceof Blob ? { ...options, binary: true } : options, callback);
      })
      .catch((error: Error) => callback?.(error));
    this.deferredSends = current;
    void current.then(() => {
      if (this.deferredSends === current) this.deferredSends = null;
    });
  }

  private whatwgState(): WhatwgListeners {
    return (this.whatwg ??= {
      handlers: { open: null, message: null, error: null, close: null },
      counts: { open: 0, message: 0, error: 0, close: 0 },
    });
  }

  private setHandler(type: WhatwgType, handler: Handler): void {
    const handlers = this.whatwgState().handlers;
    const previous = handlers[type];
    if (previous !== null) this.removeEventListener(type, previous as EventListener);
    handlers[type] = typeof handler === 'function' ? handler : null;
    if (handlers[type] !== null) this.addEventListener(type, handlers[type] as EventListener);
  }

  private emitError(error: Error): void {
    // An unhandled 'error' must not crash a server because of one bad peer.
    if (listenerCount.call(this, 'error') > 0) emit.call(this, 'error', error);
    if (this.whatwg !== null && this.whatwg.counts.error > 0) this.dispatchEvent(new ErrorEvent('error', { error, message: error.message }));
  }

  private emitClose(code: number, reason: string, wasClean: boolean): void {
    emit.call(this, 'close', code, Buffer.from(reason, 'utf8'));
    if (this.whatwg !== null && this.whatwg.counts.close > 0) this.dispatchEvent(new CloseEvent('close', { code, reason, wasClean }));
  }
}

for (const [name, value] of Object.entries(ReadyState)) {
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true, writable: false, configurable: false });
}

/** Driver options without compression are the same for every connection of a server: one object, not one each. */
const sharedDriverOptions = new WeakMap<Limits, { server?: DriverOptions; client?: DriverOptions }>();

function uncompressedDriverOptions(role: 'server' | 'client', limits: Limits): DriverOptions {
  let byRole = sharedDriverOptions.get(limits);
  if (byRole === undefined) sharedDriverOptions.set(limits, (byRole = {}));
  return (byRole[role] ??= { role, limits, deflate: null, deflateThresholdBytes: DEFAULT_DEFLATE_THRESHOLD_BYTES });
}

function isWhatwgType(type: string): type is WhatwgType {
  return type === 'open' || type === 'message' || type === 'error' || type === 'close';
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}

/** Turns what send() accepts into bytes and a frame type (strings are text unless told otherwise). */
/** The options of a send() without any (no object per message). */
const NO_SEND_OPTIONS: SendOptions = Object.freeze({});

function toPayload(data: Exclude<SendData, Blob>, binary: boolean | undefined): { bytes: Buffer; isBinary: boolean } {
  if (typeof data === 'string') return { bytes: Buffer.from(data, 'utf8'), isBinary: binary ?? false };
  if (Buffer.isBuffer(data)) return { bytes: data, isBinary: binary ?? true };
  if (data instanceof ArrayBuffer) return { bytes: Buffer.from(data), isBinary: binary ?? true };
  if (ArrayBuffer.isView(data)) return { bytes: Buffer.from(data.buffer, data.byteOffset, data.byteLength), isBinary: binary ?? true };
  throw new TypeError('send() takes a string, Buffer, ArrayBuffer, ArrayBufferView or Blob');
}
