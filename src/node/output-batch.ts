// Everything a connection sends during one tick, gathered for one socket write. Small frames are
// written straight into one buffer (no allocation per frame, no concat later); big payloads are
// kept as they are, next to their header, so they are never copied.

import type { Duplex } from 'node:stream';
import { encodeFrame, frameHeaderLength, writeFrameInto, type FrameHeaderFields } from '../protocol/frame-writer.js';
import { returnWriteBuffer, takeIdleWriteBuffer, takeWriteBuffer } from './write-buffer-pool.js';

export type WriteCallback = (error?: Error) => void;

/** Told how many payload bytes a batch carried once the socket took it. */
export interface BatchWriteListener {
  batchWritten(payloadBytes: number): void;
}

/** Frames up to this size go into the shared buffer; bigger ones keep their own. */
const INLINE_FRAME_MAX_BYTES = 16 * 1024;
/** A batch that starts this small takes its first buffer from Node's own pool (almost free); bigger ones an idle pooled buffer if there is one. */
const SMALL_FIRST_BUFFER_BYTES = 2048;

/** The pooled buffers a write carries, handed back when it completes. */
type OwnedBuffers = Buffer | Buffer[] | null;

export class OutputBatch {
  /** Frames gathered so far, in order; then `borrowed`, or `buffer[0, used)`. */
  private chunks: Buffer[] = [];
  /**
   * A small, already framed chunk that is the whole batch so far (a broadcast frame shared by every
   * receiver): written as it is when nothing follows it, copied into `buffer` when something does.
   */
  private borrowed: Buffer | null = null;
  private buffer: Buffer | null = null;
  private used = 0;
  /** Buffers of this batch taken from the write-buffer pool. */
  private owned: OwnedBuffers = null;
  private callbacks: WriteCallback[] = [];
  /** Payload bytes of the writes the socket still holds, oldest first (see afterWrite). */
  private inFlight: number[] = [];
  /** The pooled buffers of those writes, in the same order. */
  private inFlightOwned: OwnedBuffers[] = [];
  private inFlightHead = 0;
  /** One callback per batch object (not per write) for writes that only need accounting. */
  private afterWrite: ((error?: Error | null) => void) | null = null;
  /** Bytes in the batch, framing included. */
  bytes = 0;
  /** Application payload bytes in the batch (what WHATWG bufferedAmount counts). */
  payloadBytes = 0;

  get isEmpty(): boolean {
    return this.bytes === 0;
  }

  frame(fields: FrameHeaderFields, payload: Uint8Array): void {
    const size = frameHeaderLength(payload.length, fields.maskKey !== null) + payload.length;
    if (size > INLINE_FRAME_MAX_BYTES) {
      encodeFrame(fields, payload, (chunk) => this.chunk(chunk));
      return;
    }
    const buffer = this.room(size); // may move `used`: read it after
    this.used += writeFrameInto(buffer, this.used, fields, payload);
    this.bytes += size;
  }

  /** Bytes that are already framed. Small ones are copied (several frames of a tick leave as one buffer). */
  chunk(chunk: Buffer): void {
    const size = chunk.length;
    this.bytes += size;
    if (size > INLINE_FRAME_MAX_BYTES) {
      this.seal();
      this.chunks.push(chunk);
    } else if (this.bytes === size) {
      this.borrowed = chunk; // the batch was empty: no copy unless more follows
    } else if (this.borrowed !== null && this.bytes <= INLINE_FRAME_MAX_BYTES) {
      this.borrowed = joined(this.borrowed, chunk);
    } else {
      const buffer = this.room(size);
      chunk.copy(buffer, this.used);
      this.used += size;
    }
  }

  onWritten(callback: WriteCallback): void {
    this.callbacks.push(callback);
  }

  /**
   * Writes the batch to `socket` in one call (a gathered write when it holds big payloads) and
   * starts afresh. `listener.batchWritten(payloadBytes)` runs once the socket took the bytes.
   */
  writeTo(socket: Duplex, listener: BatchWriteListener): void {
    const { callbacks, payloadBytes, owned } = this;
    if (callbacks.length > 0) this.callbacks = [];
    this.owned = null;
    // The common batch is one buffer: written without gathering it into an array first.
    let single: Buffer | null = null;
    let chunks: Buffer[] | null = null;
    if (this.chunks.length > 0) {
      this.seal();
      chunks = this.chunks;
      this.chunks = [];
    } else if (this.borrowed !== null) {
      single = this.borrowed;
    } else if (this.buffer !== null && this.used > 0) {
      single = this.buffer.subarray(0, this.used);
    }
    this.borrowed = null;
    this.buffer = null;
    this.used = 0;
    this.bytes = 0;
    this.payloadBytes = 0;
    if (single === null && chunks === null) {
      giveBack(owned);
      return;
    }
    const done = this.writeCallback(callbacks, payloadBytes, owned, listener);
    if (single !== null) {
      socket.write(single, done);
      return;
    }
    if (chunks!.length === 1) {
      socket.write(chunks![0]!, done);
      return;
    }
    socket.cork();
    for (let i = 0; i < chunks!.length - 1; i++) socket.write(chunks![i]!);
    socket.write(chunks![chunks!.length - 1]!, done);
    socket.uncork();
  }

  /** Drops the batch (the socket is gone); its callbacks get the error `closedError()` makes (only made when there are any). */
  discard(closedError: () => Error): void {
    const callbacks = this.callbacks;
    this.reset();
    if (callbacks.length === 0) return;
    const error = closedError();
    for (const callback of callbacks) callback(error);
  }

  /**
   * The callback of one write. Writes with send() callbacks get their own closure; the others (every
   * broadcast) share one: the socket calls write callbacks in order, so a queue of payload sizes says
   * which of those writes each call is for (writes with their own closure never touch the queue).
   */
  private writeCallback(callbacks: WriteCallback[], payloadBytes: number, owned: OwnedBuffers, listener: BatchWriteListener): ((error?: Error | null) => void) | undefined {
    if (callbacks.length === 0) {
      if (payloadBytes === 0 && owned === null) return undefined;
      this.inFlight.push(payloadBytes);
      this.inFlightOwned.push(owned);
      return (this.afterWrite ??= () => {
        const { inFlight, inFlightOwned } = this;
        const head = this.inFlightHead++;
        const bytes = inFlight[head]!;
        giveBack(inFlightOwned[head]!);
        if (this.inFlightHead === inFlight.length) {
          inFlight.length = 0;
          inFlightOwned.length = 0;
          this.inFlightHead = 0;
        }
        listener.batchWritten(bytes);
      });
    }
    return (error?: Error | null) => {
      giveBack(owned);
      listener.batchWritten(payloadBytes);
      for (const callback of callbacks) callback(error ?? undefined);
    };
  }

  /** A buffer with `size` free bytes at `used`; a borrowed chunk moves into it first. */
  private room(size: number): Buffer {
    let buffer = this.buffer;
    if (buffer !== null && buffer.length - this.used >= size) return buffer;
    const borrowed = this.borrowed;
    this.borrowed = null;
    const carried = borrowed === null ? 0 : borrowed.length;
    const first = this.chunks.length === 0 && buffer === null;
    this.seal();
    // Inline frames are at most 16 KiB, a borrowed chunk too: both fit a pooled buffer.
    if (!first) {
      buffer = this.own(takeWriteBuffer()); // a big batch: 64 KiB, as it would allocate anyway
    } else if (carried + size <= SMALL_FIRST_BUFFER_BYTES) {
      buffer = Buffer.allocUnsafe(SMALL_FIRST_BUFFER_BYTES);
    } else {
      // An idle pooled buffer, else exactly what is needed: 10,000 connections sending 3 KiB each
      // in one turn (all written before any write calls back) must not hold 64 KiB apiece.
      const idle = takeIdleWriteBuffer();
      buffer = idle === undefined ? Buffer.allocUnsafe(carried + size) : this.own(idle);
    }
    this.buffer = buffer;
    if (borrowed !== null) this.used = borrowed.copy(buffer, 0);
    return buffer;
  }

  /** Marks `buffer` as taken from the pool (handed back after the write); returns it. */
  private own(buffer: Buffer): Buffer {
    const owned = this.owned;
    if (owned === null) this.owned = buffer;
    else if (Array.isArray(owned)) owned.push(buffer);
    else this.owned = [owned, buffer];
    return buffer;
  }

  private seal(): void {
    if (this.borrowed !== null) {
      this.chunks.push(this.borrowed);
      this.borrowed = null;
    } else if (this.buffer !== null && this.used > 0) {
      this.chunks.push(this.buffer.subarray(0, this.used));
    }
    this.buffer = null;
    this.used = 0;
  }

  private reset(): void {
    giveBack(this.owned); // never written: nothing refers to them
    this.owned = null;
    this.chunks = [];
    this.borrowed = null;
    this.buffer = null;
    this.used = 0;
    this.callbacks = [];
    this.bytes = 0;
    this.payloadBytes = 0;
  }
}

function giveBack(owned: OwnedBuffers): void {
  if (owned === null) return;
  if (Array.isArray(owned)) for (const buffer of owned) returnWriteBuffer(buffer);
  else returnWriteBuffer(owned);
}

/**
 * The last join of two framed chunks. A broadcast hands every receiver the same frames in the same
 * order, so every receiver's batch makes the same joins: the first one copies, the others reuse
 * its buffer (ten broadcasts in one tick cost ten small copies, not ten per receiver). Joined
 * buffers are never written into, so sharing them is safe.
 */
let lastJoin: { first: Buffer; second: Buffer; joined: Buffer } | null = null;

function joined(first: Buffer, second: Buffer): Buffer {
  const last = lastJoin;
  if (last !== null && last.first === first && last.second === second) return last.joined;
  const both = Buffer.allocUnsafe(first.length + second.length);
  first.copy(both, 0);
  second.copy(both, first.length);
  lastJoin = { first, second, joined: both };
  return both;
}
