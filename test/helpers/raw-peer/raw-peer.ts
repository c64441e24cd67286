// One end of an established WebSocket connection, played by the test on a real socket: it writes
// the frames a test chooses and checks every frame the endpoint under test sends back.

import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { DEFAULT_TIMEOUT_MS } from '../with-timeout.js';
import { toBuffer, type Bytes } from './bytes.js';
import type { DeflateCodec } from './deflate-codec.js';
import {
  Opcode,
  closePayload,
  decodeFrame,
  describeFrame,
  encodeFrame,
  frameSize,
  isUtf8,
  isValidWireCode,
  parseClosePayload,
  type Frame,
  type FrameSpec,
  type PeerRole,
} from './frame-codec.js';
import type { SocketReader } from './socket-reader.js';

export interface WriteOptions {
  /** Write in pieces of these sizes (the rest as one last piece), each a separate TCP write. */
  splitInto?: number[];
  /** Write one byte at a time. */
  bytewise?: boolean;
}

export interface ReceivedMessage {
  opcode: number;
  /** Reassembled and, when rsv1 was set, inflated. */
  payload: Buffer;
  compressed: boolean;
  frames: Frame[];
  /** Control frames that arrived between the fragments. */
  controls: Frame[];
}

export interface CloseResult {
  code: number | undefined;
  reason: Buffer;
  frame: Frame;
  /** Frames that arrived before the close frame. */
  skipped: Frame[];
}

function pause(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * One end of an established WebSocket connection, played by the test. As a client (§5.3) it masks
 * what it sends unless told otherwise and insists that what it receives is unmasked; as a server
 * the reverse. Every received frame is checked for what any endpoint MUST do regardless of input.
 */
export class RawPeer {
  readonly socket: net.Socket;
  /** Every frame received, in order. */
  readonly received: Frame[] = [];
  deflate: DeflateCodec | undefined;

  constructor(
    readonly role: PeerRole,
    readonly reader: SocketReader,
  ) {
    this.socket = reader.socket;
  }

  /** Parses the next frame sent by the endpoint under test. */
  async nextFrame(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Frame> {
    const frame = await this.reader.waitFor(
      () => {
        // Only the header is needed to know the size; then wait for the whole frame.
        const head = this.reader.peek(Math.min(this.reader.length, 14));
        if (head.length < 2) return undefined;
        const size = frameSize(head);
        if (size === undefined || this.reader.length < size) return undefined;
        return decodeFrame(this.reader.take(size))!.frame;
      },
      timeoutMs,
      'a frame',
    );
    this.received.push(frame);
    this.checkIncoming(frame);
    return frame;
  }

  private checkIncoming(frame: Frame): void {
    const problems: string[] = [];
    const mustBeMasked = this.role === 'server';
    if (frame.masked !== mustBeMasked) problems.push(mustBeMasked ? 'an unmasked client frame (RFC 6455 §5.3)' : 'a masked server frame (RFC 6455 §5.1)');
    if (!frame.minimalLength) problems.push('a non-minimal length encoding (RFC 6455 §5.2)');
    if (frame.rsv2 || frame.rsv3) problems.push('rsv2/rsv3 set');
    if (frame.rsv1 && this.deflate === undefined) problems.push('rsv1 set without permessage-deflate');
    if ([3, 4, 5, 6, 7, 11, 12, 13, 14, 15].includes(frame.opcode)) problems.push(`reserved opcode ${frame.opcode}`);
    if (frame.opcode >= 8 && (!frame.fin || frame.payload.length > 125 || frame.rsv1)) {
      problems.push('an invalid control frame (RFC 6455 §5.5)');
    }
    if (frame.opcode === Opcode.CLOSE && frame.payload.length === 1) problems.push('a 1-byte close payload');
    if (frame.opcode === Opcode.CLOSE && frame.payload.length >= 2) {
      const { code, reason } = parseClosePayload(frame.payload);
      if (code === undefined || !isValidWireCode(code)) problems.push(`close code ${code} that may not be sent (RFC 6455 §7.4.1)`);
      if (!isUtf8(reason)) problems.push('a close reason that is not UTF-8 (RFC 6455 §5.5.1)');
    }
    if (problems.length > 0) throw new Error(`the endpoint under test sent ${problems.join(', ')}: ${describeFrame(frame)}`);
  }

  /** Reads frames up to a complete data message; control frames on the way are collected. */
  async nextMessage(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ReceivedMessage> {
    const frames: Frame[] = [];
    const controls: Frame[] = [];
    for (;;) {
      const frame = await this.nextFrame(timeoutMs);
      if (frame.opcode >= 8) {
        if (frame.opcode === Opcode.CLOSE) {
          const close = parseClosePayload(frame.payload);
          throw new Error(`expected a message, got a close frame with code ${close.code} ("${close.reason.toString()}")`);
        }
        controls.push(frame);
        continue;
      }
      if (frames.length === 0 && frame.opcode === Opcode.CONTINUATION) throw new Error('the endpoint sent a continuation frame without a start');
      if (frames.length > 0 && frame.opcode !== Opcode.CONTINUATION) throw new Error('the endpoint started a new message inside a fragmented one');
      if (frames.length > 0 && frame.rsv1) throw new Error('the endpoint set rsv1 on a continuation frame (RFC 7692 §6.1)');
      frames.push(frame);
      if (frame.fin) break;
    }
    const first = frames[0]!;
    const joined = Buffer.concat(frames.map((f) => f.payload));
    const payload = first.rsv1 ? this.deflate!.decompress(joined) : joined;
    return { opcode: first.opcode, payload, compressed: first.rsv1, frames, controls };
  }

  /** Reads frames until a close frame and checks its code; other frames on the way are returned. */
  async expectClose(expected?: number | 'none', timeoutMs = DEFAULT_TIMEOUT_MS): Promise<CloseResult> {
    const skipped: Frame[] = [];
    for (;;) {
      let frame: Frame;
      try {
        frame = await this.nextFrame(timeoutMs);
      } catch (error) {
        const before = skipped.length > 0 ? ` after ${skipped.map(describeFrame).join(' ')}` : '';
        throw new Error(`expected a close frame${expected === undefined ? '' : ` with code ${expected}`}${before}: ${(error as Error).message}`);
      }
      if (frame.opcode !== Opcode.CLOSE) {
        skipped.push(frame);
        continue;
      }
      const { code, reason } = parseClosePayload(frame.payload);
      if (expected === 'none' && code !== undefined) throw new Error(`expected an empty close frame, got code ${code}`);
      if (typeof expected === 'number' && code !== expected) {
        throw new Error(`expected close code ${expected}, got ${code ?? 'none'} (reason "${reason.toString()}")`);
      }
      return { code, reason, frame, skipped };
    }
  }

  /**
   * The endpoint must fail the connection with `code` now, having sent nothing else first:
   * read its close frame, answer it as Autobahn does, and wait for TCP to close.
   */
  async expectFail(code: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<CloseResult> {
    const result = await this.expectClose(code, timeoutMs).catch((error: unknown) => {
      this.destroy(); // a failed case must not hold the endpoint's shutdown for its close timeout
      throw error;
    });
    if (result.skipped.length > 0) throw new Error(`frames before the close: ${result.skipped.map(describeFrame).join(' ')}`);
    await this.finishClosingHandshake(result.code, timeoutMs);
    return result;
  }

  /**
   * After the endpoint's close frame: answer it, then TCP. The server closes TCP first (RFC 6455
   * §7.1.1), so as a client we wait for it; as a server we close it ourselves.
   */
  async finishClosingHandshake(code: number | undefined, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    if (!this.reader.ended) await this.writeFrame({ opcode: Opcode.CLOSE, payload: closePayload(code) });
    await this.endAfterClose(timeoutMs);
  }

  /** Both close frames were exchanged: the server side closes TCP (RFC 6455 §7.1.1), the client waits for it. */
  async endAfterClose(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    if (this.role === 'server') this.socket.end();
    await this.waitForTcpClose(timeoutMs);
  }

  /** We start the closing handshake; the endpoint must echo the code, then TCP closes. */
  async closeHandshake(code = 1000, reason = '', timeoutMs = DEFAULT_TIMEOUT_MS): Promise<CloseResult> {
    await this.writeFrame({ opcode: Opcode.CLOSE, payload: closePayload(code, reason) });
    const result = await this.expectClose(code, timeoutMs);
    await this.endAfterClose(timeoutMs);
    return result;
  }

  /**
   * Sends a ping and reads up to its pong. TCP keeps order, so whatever the endpoint sent in
   * answer to earlier input arrives before the pong: an event-driven "and nothing else came".
   */
  async barrier(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Frame[]> {
    const token = randomBytes(8);
    await this.writeFrame({ opcode: Opcode.PING, payload: token });
    const before: Frame[] = [];
    for (;;) {
      const frame = await this.nextFrame(timeoutMs);
      if (frame.opcode === Opcode.PONG && frame.payload.equals(token)) return before;
      before.push(frame);
    }
  }

  /** Resolves when the endpoint closes TCP; fails if it sent bytes after its close frame. */
  async waitForTcpClose(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    await this.reader.waitForEnd(timeoutMs);
    if (this.reader.length > 0) {
      const leftover = this.reader.takeAll();
      throw new Error(`the endpoint sent ${leftover.length} bytes and then closed TCP: ${leftover.subarray(0, 40).toString('hex')}`);
    }
  }

  encode(spec: FrameSpec): Buffer {
    return encodeFrame({ ...spec, mask: spec.mask ?? this.role === 'client' });
  }

  /** Writes bytes, in separate TCP writes when asked; write errors (the endpoint hung up) are ignored. */
  async writeRaw(bytes: Uint8Array, options: WriteOptions = {}): Promise<void> {
    const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const sizes = options.bytewise === true ? new Array<number>(data.length).fill(1) : (options.splitInto ?? []);
    let offset = 0;
    for (const size of sizes) {
      if (offset >= data.length) break;
      await this.writeOnce(data.subarray(offset, offset + size));
      await pause();
      offset += size;
    }
    if (offset < data.length) await this.writeOnce(data.subarray(offset));
  }

  private writeOnce(chunk: Buffer): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(chunk, () => resolve()));
  }

  writeFrame(spec: FrameSpec, options?: WriteOptions): Promise<void> {
    return this.writeRaw(this.encode(spec), options);
  }

  /** Several frames in one TCP write (or split as asked). */
  writeFrames(specs: FrameSpec[], options?: WriteOptions): Promise<void> {
    return this.writeRaw(Buffer.concat(specs.map((spec) => this.encode(spec))), options);
  }

  /**
   * The frames of one data message: compressed when asked (permessage-deflate must be negotiated),
   * cut into fragments of the given payload sizes (the rest in a last fragment).
   */
  messageFrames(data: Bytes, options: { binary?: boolean; compress?: boolean; fragmentSizes?: number[] } = {}): FrameSpec[] {
    const compress = options.compress === true;
    if (compress && this.deflate === undefined) throw new Error('permessage-deflate was not negotiated');
    const payload = compress ? this.deflate!.compress(data) : toBuffer(data);
    const pieces: Buffer[] = [];
    let offset = 0;
    for (const size of options.fragmentSizes ?? []) {
      pieces.push(payload.subarray(offset, offset + size));
      offset += size;
    }
    if (offset < payload.length || pieces.length === 0) pieces.push(payload.subarray(offset));
    return pieces.map((piece, i) => ({
      opcode: i > 0 ? Opcode.CONTINUATION : options.binary === true ? Opcode.BINARY : Opcode.TEXT,
      fin: i === pieces.length - 1,
      rsv1: i === 0 && compress,
      payload: piece,
    }));
  }

  sendMessage(data: Bytes, options: { binary?: boolean; compress?: boolean; fragmentSizes?: number[] } & WriteOptions = {}): Promise<void> {
    return this.writeFrames(this.messageFrames(data, options), options);
  }

  /** Sends a message and checks that the same bytes come back with the same type. */
  async expectEcho(data: Bytes, options: { binary?: boolean; compress?: boolean; fragmentSizes?: number[] } & WriteOptions = {}): Promise<ReceivedMessage> {
    await this.sendMessage(data, options);
    const message = await this.nextMessage();
    const expectedOpcode = options.binary === true ? Opcode.BINARY : Opcode.TEXT;
    if (message.opcode !== expectedOpcode) throw new Error(`echo came back with opcode ${message.opcode}, sent ${expectedOpcode}`);
    if (!message.payload.equals(toBuffer(data))) {
      throw new Error(`echo differs: sent ${toBuffer(data).length} bytes, got ${message.payload.length}`);
    }
    return message;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
