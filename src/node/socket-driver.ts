// The only code that touches the TCP (or TLS) socket of an open WebSocket. It feeds reads to the
// sans-I/O Connection and gathers everything the connection writes during one tick into a single
// socket write, so replies to one read leave in one system call.

import type { Duplex } from 'node:stream';
import { Connection, ConnectionState, type ConnectionOptions, type Role } from '../protocol/connection.js';
import { CloseCode } from '../protocol/close-codes.js';
import { ConnectionClosedError, type LimitExceededError, type PeerError } from '../protocol/errors.js';
import type { Limits } from '../protocol/limits.js';
import type { PerMessageDeflate } from './deflate.js';
import { nextMaskKey } from './mask-keys.js';
import { OutputBatch } from './output-batch.js';
import type { FrameHeaderFields } from '../protocol/frame-writer.js';

export type SendCallback = (error?: Error) => void;

/** What the driver reports to the WebSocket that owns it. */
export interface DriverOwner {
  onMessage(data: Buffer, isBinary: boolean): void;
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  onPeerClose(code: number, reason: string): void;
  onFailure(error: PeerError | LimitExceededError): void;
  onDrain(): void;
  onClosed(code: number, reason: string, wasClean: boolean): void;
}

export interface DriverOptions {
  role: Role;
  limits: Limits;
  deflate: PerMessageDeflate | null;
  /** Messages shorter than this are sent uncompressed even when compression was negotiated. */
  deflateThresholdBytes: number;
}

interface QueuedMessage {
  data: Buffer;
  /** Application bytes it carries (differs from data.length for an already framed message). */
  payloadBytes?: number;
  isBinary: boolean;
  /** How to send it: frame it plainly, compress then frame it, or write it as is (already framed). */
  kind: 'plain' | 'compress' | 'encoded';
  callback: SendCallback | undefined;
}


export class SocketDriver {
  readonly connection: Connection;
  /** Set on every read; the server's heartbeat clears it and pings. */
  alive = true;
  /** Created with the first write: an idle connection has nothing to batch. */
  private batch: OutputBatch | null = null;
  /** Application payload bytes not yet handed to the kernel (WHATWG bufferedAmount). */
  private unsentPayload = 0;
  /** A wait for unsentPayload to fall to `bytes` (see whenUnsentAtMost). */
  private lowWater: { bytes: number; callback: () => void } | null = null;
  private flushScheduled = false;
  /** At least socket.writableLength (see wouldExceed); unknown until first read. */
  private socketBacklogBound = Infinity;
  private endRequested = false;
  private closeTimer: NodeJS.Timeout | null = null;
  private queue: QueuedMessage[] = [];
  private queuedBytes = 0;
  private compressing = false;
  private pendingClose: { code: number | undefined; reason: string } | null = null;
  private aboveHighWater = false;
  private finished = false;
  private pausedForInflate = false;
  private peerReason = '';
  /** The close code we failed the connection with, if we did. */
  private failedWith: number | undefined;

  constructor(
    private readonly socket: Duplex,
    private readonly owner: DriverOwner,
    private readonly options: DriverOptions,
  ) {
    this.connection = new Connection(connectionOptions(options.role, options.limits, options.deflate !== null), this);
  }

  private get output(): OutputBatch {
    return (this.batch ??= new OutputBatch());
  }

  /** Starts reading; `head` holds bytes that arrived with the handshake. */
  start(head: Buffer): void {
    const socket = this.socket as Duplex & { setNoDelay?: (on: boolean) => void; setTimeout?: (ms: number) => void; timeout?: number };
    socket.setNoDelay?.(true);
    if (socket.timeout) socket.setTimeout?.(0); // an http server's idle timeout must not end a WebSocket
    // The listeners are shared by every connection and find this driver on the socket.
    (socket as DrivenSocket)[DRIVER] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('close', onSocketClose);
    socket.on('error', ignoreSocketError); // ECONNRESET and friends: the 'close' that follows reports 1006
    // 'drain' is listened to only while above the high-water mark (checkHighWater).
    if (head.length > 0) this.connection.receiveData(head);
    if ((socket as { destroyed?: boolean }).destroyed) this.socketClosed();
  }

  /** Bytes on their way out, framing included: what backpressure is measured by. */
  get bufferedBytes(): number {
    return (this.batch === null ? 0 : this.batch.bytes) + this.queuedBytes + this.socket.writableLength;
  }

  /**
   * Whether `extra` more bytes would take bufferedBytes past `limit`. Reads the socket's backlog
   * (a stream getter) only when an upper bound of it says the limit is near: a broadcast asks
   * this for every receiver.
   */
  wouldExceed(extra: number, limit: number): boolean {
    const own = (this.batch === null ? 0 : this.batch.bytes) + this.queuedBytes + extra;
    if (own + this.socketBacklogBound <= limit) return false;
    const backlog = this.socket.writableLength;
    this.socketBacklogBound = backlog; // it only shrinks until our next write
    return own + backlog > limit;
  }

  /** Application payload bytes queued by send() and broadcasts and not yet written to the socket. */
  get unsentPayloadBytes(): number {
    return this.unsentPayload;
  }

  /**
   * Calls `callback` once, from the write completion that brings unsentPayloadBytes to `bytes` or
   * below; never if the socket closes first. One wait at a time: a later call replaces it.
   */
  whenUnsentAtMost(bytes: number, callback: () => void): void {
    this.lowWater = this.finished ? null : { bytes, callback };
  }

  /** Queues a message; false once the buffer is above the high-water mark (wait for drain). */
  send(data: Buffer, isBinary: boolean, compress: boolean, callback: SendCallback | undefined): boolean {
    const deflate = this.options.deflate !== null && compress && data.length >= this.options.deflateThresholdBytes;
    if (!deflate && this.queue.length === 0 && !this.compressing) {
      this.connection.send(data, isBinary);
      this.countPayload(data.length);
      if (callback !== undefined) this.output.onWritten(callback);
    } else {
      if (this.connection.state !== ConnectionState.OPEN) this.connection.send(data, isBinary); // throws InvalidStateError
      this.queue.push({ data, isBinary, kind: deflate ? 'compress' : 'plain', callback });
      this.queuedBytes += data.length;
      this.unsentPayload += data.length;
      this.pump();
    }
    return this.checkHighWater();
  }

  /** Writes frames encoded once for many receivers; false when this connection is no longer open. */
  sendEncoded(chunks: readonly Buffer[], payloadBytes: number): boolean {
    if (this.connection.state !== ConnectionState.OPEN) return false;
    if (this.queue.length > 0 || this.compressing) {
      // Keep message order: fall back to the queue with the payload already framed.
      const framed = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      this.queue.push({ data: framed, isBinary: true, kind: 'encoded', callback: undefined, payloadBytes });
      this.queuedBytes += framed.length;
      this.unsentPayload += payloadBytes;
      return true;
    }
    // Already framed and the connection is open: straight into the batch (what Connection.sendEncoded does).
    const output = this.output;
    for (let i = 0; i < chunks.length; i++) output.chunk(chunks[i]!);
    this.countPayload(payloadBytes);
    this.scheduleFlush();
    return true;
  }

  /** Starts the closing handshake once every queued message is out. */
  close(code: number | undefined, reason: string): void {
    if (this.queue.length > 0 || this.compressing) {
      this.pendingClose ??= { code, reason };
      return;
    }
    this.connection.close(code, reason);
  }

  terminate(): void {
    this.socket.destroy();
  }

  // ---- ConnectionEvents ----

  message(data: Buffer, isBinary: boolean): void {
    this.owner.onMessage(data, isBinary);
  }

  ping(data: Buffer): void {
    this.owner.onPing(data);
  }

  pong(data: Buffer): void {
    this.owner.onPong(data);
  }

  closeFrame(code: number, reason: string): void {
    this.peerReason = reason;
    this.owner.onPeerClose(code, reason);
  }

  failure(error: PeerError | LimitExceededError): void {
    this.failedWith = error.closeCode;
    this.owner.onFailure(error);
  }

  write(chunk: Buffer): void {
    this.output.chunk(chunk);
    this.scheduleFlush();
  }

  writeFrame(fields: FrameHeaderFields, payload: Uint8Array): void {
    this.output.frame(fields, payload);
    this.scheduleFlush();
  }

  end(): void {
    this.endRequested = true;
    if (!this.flushScheduled) this.flush();
    this.armCloseTimer();
  }

  closeExpected(): void {
    this.armCloseTimer();
  }

  inflate(payload: Buffer, fin: boolean): void {
    const deflate = this.options.deflate;
    if (deflate === null) return;
    if (deflate.inflate(payload, fin, this.connection.remainingMessageBytes, this)) return;
    // Receive-side backpressure: nothing more is read until this frame is decoded. (Small frames
    // are answered at once, and pausing costs two system calls.)
    this.socket.pause();
    this.pausedForInflate = true;
  }

  /** The answer to inflate(), at once or from the thread pool. */
  inflateDone(error: PeerError | LimitExceededError | null, data: Buffer): void {
    if (error !== null) this.connection.inflateFailed(error);
    else this.connection.inflated(data);
    if (!this.pausedForInflate) return;
    this.pausedForInflate = false;
    if (!this.finished) this.socket.resume();
  }

  // ---- internals ----

  /** flush(), unless end() already did it. */
  flushIfScheduled(): void {
    if (this.flushScheduled) this.flush();
  }

  /** Hands the batch to the socket in one write. */
  flush(): void {
    this.flushScheduled = false;
    const socket = this.socket;
    if (socket.writable) {
      this.output.writeTo(socket, this);
      this.socketBacklogBound = socket.writableLength;
    } else this.output.discard(() => this.closedError());
    if (this.endRequested && socket.writable) socket.end();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    if (driversToFlush.push(this) === 1) process.nextTick(flushDrivers);
  }

  private pump(): void {
    while (!this.compressing && this.queue.length > 0) {
      const item = this.queue.shift()!;
      this.queuedBytes -= item.data.length;
      if (this.connection.state !== ConnectionState.OPEN) {
        item.callback?.(this.closedError());
        continue;
      }
      if (item.kind !== 'compress') {
        if (item.kind === 'encoded') this.connection.sendEncoded([item.data]);
        else this.connection.send(item.data, item.isBinary);
        this.output.payloadBytes += item.payloadBytes ?? item.data.length;
        if (item.callback !== undefined) this.output.onWritten(item.callback);
        continue;
      }
      this.compressing = true;
      this.queuedBytes += item.data.length;
      let answeredAtOnce = true;
      this.options.deflate!.deflate(item.data, (error, compressed) => {
        this.compressing = false;
        this.queuedBytes -= item.data.length;
        if (error !== null || this.connection.state !== ConnectionState.OPEN) {
          item.callback?.(error ?? this.closedError());
        } else {
          this.connection.sendCompressed(compressed, item.isBinary);
          this.output.payloadBytes += item.data.length;
          if (item.callback !== undefined) this.output.onWritten(item.callback);
        }
        // Small messages are compressed before deflate() returns: this loop goes on with the
        // next one (calling pump() here would nest one stack frame per queued message).
        if (!answeredAtOnce) this.pump();
      });
      answeredAtOnce = false;
    }
    if (!this.compressing && this.queue.length === 0 && this.pendingClose !== null) {
      const { code, reason } = this.pendingClose;
      this.pendingClose = null;
      this.connection.close(code, reason);
    }
  }

  private countPayload(bytes: number): void {
    this.unsentPayload += bytes;
    this.output.payloadBytes += bytes;
  }

  private checkHighWater(): boolean {
    const below = !this.wouldExceed(0, this.options.limits.highWaterMarkBytes - 1);
    if (!below && !this.aboveHighWater) {
      this.aboveHighWater = true;
      this.socket.on('drain', onSocketDrain);
    }
    return below;
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== null || this.finished) return;
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.options.limits.closeTimeoutMs);
  }

  private closedError(): ConnectionClosedError {
    const connection = this.connection;
    return new ConnectionClosedError(connection.sentCloseCode, connection.receivedCloseCode, false);
  }

  // ---- socket events (internal: called by the shared listeners below) ----

  /** The batch's bytes were handed to the kernel (internal, OutputBatch). */
  batchWritten(payloadBytes: number): void {
    this.unsentPayload -= payloadBytes;
    const lowWater = this.lowWater;
    // A destroyed socket fails its pending writes: those bytes were dropped, not sent.
    if (lowWater !== null && this.unsentPayload <= lowWater.bytes && !this.socket.destroyed) {
      this.lowWater = null;
      lowWater.callback();
    }
  }

  socketData(chunk: Buffer): void {
    this.alive = true;
    this.connection.receiveData(chunk);
  }

  socketEnd(): void {
    this.connection.receiveEof();
    this.socket.end();
  }

  socketDrain(): void {
    if (this.aboveHighWater && this.bufferedBytes < this.options.limits.highWaterMarkBytes) {
      this.aboveHighWater = false;
      this.socket.removeListener('drain', onSocketDrain);
      this.owner.onDrain();
    }
  }

  socketClosed(): void {
    if (this.finished) return;
    this.finished = true;
    this.lowWater = null;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    const connection = this.connection;
    connection.abort();
    this.options.deflate?.close();
    // An Error (with its stack) only when someone waits for it: 10,000 closing idle connections need none.
    const queue = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    if (queue.length > 0) {
      const error = this.closedError();
      for (const item of queue) item.callback?.(error);
    }
    this.batch?.discard(() => this.closedError());
    const received = connection.receivedCloseCode;
    const wasClean = connection.closeFrameSent && received !== undefined;
    // A server reports why it failed a connection (as `ws` does); a client follows the browser
    // API, where a failed connection closes with 1006.
    const failedCode = this.options.role === 'server' ? this.failedWith : undefined;
    this.owner.onClosed(received ?? failedCode ?? CloseCode.ABNORMAL, this.peerReason, wasClean);
  }
}

const DRIVER = Symbol('tidewire.driver');
type DrivenSocket = Duplex & { [DRIVER]: SocketDriver };

function onSocketData(this: DrivenSocket, chunk: Buffer): void {
  this[DRIVER].socketData(chunk);
}

function onSocketEnd(this: DrivenSocket): void {
  this[DRIVER].socketEnd();
}

function onSocketDrain(this: DrivenSocket): void {
  this[DRIVER].socketDrain();
}

function onSocketClose(this: DrivenSocket): void {
  this[DRIVER].socketClosed();
}

function ignoreSocketError(): void {}

/**
 * The sans-I/O connection's options: one object per role, limits and compression, shared by all
 * connections that have the same (a server's connections all do).
 */
const sharedConnectionOptions = new WeakMap<Limits, (ConnectionOptions | undefined)[]>();

function connectionOptions(role: Role, limits: Limits, compression: boolean): ConnectionOptions {
  let byKind = sharedConnectionOptions.get(limits);
  if (byKind === undefined) sharedConnectionOptions.set(limits, (byKind = []));
  const kind = (role === 'client' ? 2 : 0) + (compression ? 1 : 0);
  return (byKind[kind] ??= role === 'client' ? { role, limits, compression, maskKey: nextMaskKey } : { role, limits, compression });
}

/**
 * Drivers with output this tick, flushed together from one nextTick (a broadcast to 10,000
 * connections schedules one callback, not 10,000). Each still writes once, in the same turn.
 */
let driversToFlush: SocketDriver[] = [];

function flushDrivers(): void {
  const drivers = driversToFlush;
  driversToFlush = [];
  let i = 0;
  try {
    for (; i < drivers.length; i++) drivers[i]!.flushIfScheduled();
  } finally {
    // Whatever a throwing flush left behind still goes out this turn.
    if (++i < drivers.length) {
      const rest = drivers.slice(i);
      if (driversToFlush.push(...rest) === rest.length) process.nextTick(flushDrivers);
    }
  }
}
