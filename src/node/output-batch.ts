// Everything a connection sends during one tick, gathered for one socket write. Small frames are
// written straight into one buffer (no allocation per frame, no concat later); big payloads are
// kept as they are, next to their header, so they are never copied.

import type { Duplex } from 'node:stream';
import { encodeFrame, frameHeaderLength, writeFrameInto, type FrameHeaderFields } from '../protocol/frame-writer.js';

export type WriteCallback = (error?: Error) => void;

/** Told how many payload bytes a batch carried once the socket took it. */
export interface BatchWriteListener {
  batchWritten(payloadBytes: number): void;
}

/** Frames up to this size go into the shared buffer; bigger ones keep their own. */
const INLINE_FRAME_MAX_BYTES = 16 * 1024;
/** The first buffer of a batch: under 4 KiB it comes from Node's pool and costs almost nothing. */
const FIRST_BUFFER_BYTES = 2048;
const LATER_BUFFER_BYTES = 64 * 1024;

export class OutputBatch {
  /** Frames gathered so far, in order; `buffer[0, used)` follows them. */
  private chunks: Buffer[] = [];
  private buffer: Buffer | null = null;
  private used = 0;
  private callbacks: WriteCallback[] = [];
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
    let buffer = this.buffer;
    if (buffer === null || buffer.length - this.used < size) {
      this.seal();
      buffer = this.buffer = Buffer.allocUnsafe(Math.max(size, this.chunks.length === 0 ? FIRST_BUFFER_BYTES : LATER_BUFFER_BYTES));
    }
    this.used += writeFrameInto(buffer, this.used, fields, payload);
    this.bytes += size;
  }

  /** Bytes that are already framed. */
  chunk(chunk: Buffer): void {
    this.seal();
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  onWritten(callback: WriteCallback): void {
    this.callbacks.push(callback);
  }

  /**
   * Writes the batch to `socket` in one call (a gathered write when it holds big payloads) and
   * starts afresh. `listener.batchWritten(payloadBytes)` runs once the socket took the bytes.
   */
  writeTo(socket: Duplex, listener: BatchWriteListener): void {
    this.seal();
    const { chunks, callbacks, payloadBytes } = this;
    this.reset();
    if (chunks.length === 0) return;
    const done =
      callbacks.length === 0 && payloadBytes === 0
        ? undefined
        : (error?: Error | null) => {
            listener.batchWritten(payloadBytes);
            for (const callback of callbacks) callback(error ?? undefined);
          };
    if (chunks.length === 1) {
      socket.write(chunks[0]!, done);
      return;
    }
    socket.cork();
    for (let i = 0; i < chunks.length - 1; i++) socket.write(chunks[i]!);
    socket.write(chunks[chunks.length - 1]!, done);
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

  private seal(): void {
    if (this.buffer !== null && this.used > 0) this.chunks.push(this.buffer.subarray(0, this.used));
    this.buffer = null;
    this.used = 0;
  }

  private reset(): void {
    this.chunks = [];
    this.buffer = null;
    this.used = 0;
    this.callbacks = [];
    this.bytes = 0;
    this.payloadBytes = 0;
  }
}
