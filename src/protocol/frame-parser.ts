// Incremental frame parser (RFC 6455 §5.2). Any split or coalescing of reads gives the same
// frames. A payload that lies inside one read is a view of that read, unmasked in place; one
// that spans reads is gathered into a buffer allocated once, at its known length (small ones
// carved from a shared slab).

import { kMaxLength } from 'node:buffer';
import { PeerError, LimitExceededError } from './errors.js';
import { applyMask } from './masking.js';
import { allocatePayload } from './payload-slab.js';
import { isControlOpcode, isKnownOpcode } from './opcodes.js';
import { CloseCode } from './close-codes.js';

/** What the parser tells its owner. Returning false from a callback pauses (or stops) parsing. */
export interface FrameSink {
  /** A header is complete. `rsv` holds the three reserved bits as in the first byte (0x70 mask). */
  onFrameHeader(fin: boolean, rsv: number, opcode: number, payloadLength: number): boolean;
  /** The whole (unmasked) payload of the frame whose header came last. */
  onFramePayload(payload: Buffer): boolean;
  /**
   * A payload that spans reads got `data[start, end)`, unmasked, as it arrived (so text can fail
   * fast). Indexes rather than a view: most sinks look only at text, and a view costs an object.
   */
  onFramePayloadPart(data: Buffer, start: number, end: number): boolean;
  /** The peer sent something that is not a frame; parsing has stopped. */
  onFrameError(error: PeerError | LimitExceededError): void;
}

const EMPTY = Buffer.alloc(0);
const MAX_HEADER_BYTES = 14;
/**
 * A payload spanning reads is gathered into one buffer. Up to this size it is allocated at its
 * declared length; beyond, it grows with what actually arrived (doubling), so a header that
 * merely claims a huge length does not reserve that memory.
 */
const PREALLOCATE_MAX_BYTES = 1024 * 1024;

export class FrameParser {
  // Created on first need, not per connection: most connections sit idle (see docs/BENCHMARKS.md).
  /** A header split across reads is gathered here. */
  private headerBuffer: Buffer | null = null;
  private headerFilled = 0;
  private readingPayload = false;
  private payloadLength = 0;
  private masked = false;
  private maskKey: Buffer | null = null;
  private gathered: Buffer | null = null;
  private gatheredFilled = 0;
  private paused = false;
  private stopped = false;
  private consuming = false;
  /** Input waiting while parsing is paused, or arriving from within a sink callback. */
  private backlog: Buffer[] | null = null;

  constructor(
    private readonly sink: FrameSink,
    /** Servers require masked frames, clients unmasked ones (RFC 6455 §5.1). */
    private readonly expectMasked: boolean,
  ) {}

  push(chunk: Buffer): void {
    if (this.stopped || chunk.length === 0) return;
    if (this.paused || this.consuming) {
      (this.backlog ??= []).push(chunk);
      return;
    }
    this.consume(chunk);
  }

  /** Stop delivering frames until resume(); further input is kept, in order. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused || this.stopped) return;
    this.paused = false;
    if (this.consuming) return; // the running loop picks the backlog up
    while (this.backlog !== null && this.backlog.length > 0 && !this.paused && !this.stopped) {
      this.consume(this.backlog.shift()!);
    }
  }

  /** Discard everything from now on (the connection failed or closed). */
  stop(): void {
    this.stopped = true;
    this.backlog = null;
    this.gathered = null;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Bytes received but not yet parsed because parsing is paused. */
  get backlogBytes(): number {
    let total = 0;
    for (const chunk of this.backlog ?? []) total += chunk.length;
    return total;
  }

  private consume(first: Buffer): void {
    this.consuming = true;
    let chunk: Buffer | undefined = first;
    while (chunk !== undefined) {
      let offset = 0;
      while (offset < chunk.length && !this.paused && !this.stopped) {
        offset = this.readingPayload ? this.readPayload(chunk, offset) : this.readHeader(chunk, offset);
      }
      if (this.stopped) break;
      if (offset < chunk.length) (this.backlog ??= []).unshift(chunk.subarray(offset));
      chunk = this.paused || this.backlog === null ? undefined : this.backlog.shift();
    }
    this.consuming = false;
  }

  /** Returns the offset after what it used of `chunk`. */
  private readHeader(chunk: Buffer, offset: number): number {
    const available = chunk.length - offset;
    if (this.headerFilled === 0 && available >= 2 && available >= this.headerLength(chunk, offset)) {
      return offset + this.parseHeader(chunk, offset); // fast path: the whole header is in this read
    }
    const header = (this.headerBuffer ??= Buffer.allocUnsafe(MAX_HEADER_BYTES));
    const wanted = this.headerFilled >= 2 ? this.headerLength(header, 0) : 2;
    const take = Math.min(wanted - this.headerFilled, available);
    chunk.copy(header, this.headerFilled, offset, offset + take);
    this.headerFilled += take;
    if (this.headerFilled >= 2 && this.headerFilled === this.headerLength(header, 0)) {
      this.headerFilled = 0;
      this.parseHeader(header, 0);
    }
    return offset + take;
  }

  /** Header size given its first two bytes at `at`. */
  private headerLength(header: Buffer, at: number): number {
    const b1 = header[at + 1]!;
    const lengthCode = b1 & 0x7f;
    return 2 + (b1 & 0x80 ? 4 : 0) + (lengthCode === 126 ? 2 : lengthCode === 127 ? 8 : 0);
  }

  /** Decodes a complete header at `at`; returns its size. */
  private parseHeader(header: Buffer, at: number): number {
    const b0 = header[at]!;
    const b1 = header[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv = b0 & 0x70;
    const opcode = b0 & 0x0f;
    this.masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let position = at + 2;
    if (length === 126) {
      length = header.readUInt16BE(position);
      position += 2;
    } else if (length === 127) {
      const high = header.readUInt32BE(position);
      const low = header.readUInt32BE(position + 4);
      position += 8;
      // RFC 6455 §5.2: the most significant bit MUST be 0.
      if (high & 0x80000000) return this.error(new PeerError('64-bit length with the top bit set', CloseCode.PROTOCOL_ERROR));
      if (high > 0x1fffff) return this.error(new LimitExceededError('frameBytes', Number.MAX_SAFE_INTEGER, Infinity));
      length = high * 0x100000000 + low;
    }
    if (this.masked) {
      const maskKey = (this.maskKey ??= Buffer.allocUnsafe(4)); // byte by byte: a 4-byte copy() costs more than the rest of the header
      maskKey[0] = header[position]!;
      maskKey[1] = header[position + 1]!;
      maskKey[2] = header[position + 2]!;
      maskKey[3] = header[position + 3]!;
      position += 4;
    }
    const used = position - at;
    const fault = this.checkHeader(fin, opcode, length);
    if (fault !== null) return this.error(fault);
    this.payloadLength = length;
    if (!this.sink.onFrameHeader(fin, rsv, opcode, length)) {
      this.stop(); // the sink failed the connection
      return used;
    }
    this.readingPayload = true;
    if (length === 0) this.deliver(EMPTY);
    return used;
  }

  private checkHeader(fin: boolean, opcode: number, length: number): PeerError | null {
    if (this.masked !== this.expectMasked) {
      return new PeerError(this.expectMasked ? 'client frame is not masked' : 'server frame is masked', CloseCode.PROTOCOL_ERROR);
    }
    if (!isKnownOpcode(opcode)) return new PeerError(`reserved opcode ${opcode}`, CloseCode.PROTOCOL_ERROR);
    if (isControlOpcode(opcode)) {
      // RFC 6455 §5.5: control frames MUST have a payload of 125 bytes or less and MUST NOT be fragmented.
      if (length > 125) return new PeerError('control frame payload over 125 bytes', CloseCode.PROTOCOL_ERROR);
      if (!fin) return new PeerError('fragmented control frame', CloseCode.PROTOCOL_ERROR);
    }
    return null;
  }

  private readPayload(chunk: Buffer, offset: number): number {
    const available = chunk.length - offset;
    if (this.gathered === null) {
      if (available >= this.payloadLength) {
        const end = offset + this.payloadLength;
        const payload = chunk.subarray(offset, end);
        if (this.masked) applyMask(payload, this.maskKey!);
        this.deliver(payload);
        return end;
      }
      if (this.payloadLength > kMaxLength) {
        return this.error(new LimitExceededError('frameBytes', kMaxLength, this.payloadLength));
      }
      this.gathered = allocatePayload(Math.min(this.payloadLength, PREALLOCATE_MAX_BYTES));
      this.gatheredFilled = 0;
    }
    const take = Math.min(available, this.payloadLength - this.gatheredFilled);
    const start = this.gatheredFilled;
    this.reserve(start + take);
    // Copied, then unmasked where it lands: the read stays as it came, the XOR runs on bytes just written.
    const gathered = this.gathered!;
    chunk.copy(gathered, start, offset, offset + take);
    if (this.masked) applyMask(gathered, this.maskKey!, start, start, start + take);
    this.gatheredFilled = start + take;
    if (!this.sink.onFramePayloadPart(gathered, start, this.gatheredFilled)) {
      this.stop(); // the sink failed the connection
      return offset + take;
    }
    if (this.gatheredFilled === this.payloadLength) {
      const payload = this.gathered;
      this.gathered = null;
      this.deliver(payload);
    }
    return offset + take;
  }

  /** Grows the gathering buffer geometrically up to the declared payload length. */
  private reserve(needed: number): void {
    const current = this.gathered!;
    if (needed <= current.length) return;
    const grown = allocatePayload(Math.min(this.payloadLength, Math.max(needed, current.length * 2)));
    current.copy(grown, 0, 0, this.gatheredFilled);
    this.gathered = grown;
  }

  private deliver(payload: Buffer): void {
    this.readingPayload = false;
    if (!this.sink.onFramePayload(payload) && !this.stopped) this.paused = true;
  }

  private error(fault: PeerError | LimitExceededError): number {
    this.stop();
    this.sink.onFrameError(fault);
    return 0;
  }
}
