// An independent WebSocket peer for the conformance suite: a minimal frame codec, a raw client and
// a raw server that put exactly the bytes a test chooses on a real TCP socket and decode what comes
// back. It imports nothing from src/ on purpose: a check built on the code under test shares its bugs.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe } from 'node:test';
import zlib from 'node:zlib';

export const Opcode = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

/** RFC 6455 §1.3. */
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** How long a test waits for an event that should come promptly; only reached when something is wrong. */
export const DEFAULT_TIMEOUT_MS = 4000;
/** RFC 7692 §7.2.1: the tail of a sync flush, dropped by the sender and appended by the receiver. */
export const SYNC_FLUSH_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

// ---------------------------------------------------------------- bytes and small utilities

export type Bytes = Uint8Array | string;

export function toBuffer(data: Bytes | undefined): Buffer {
  if (data === undefined) return Buffer.alloc(0);
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** `hex('ce ba e1')`: bytes written the way the RFCs and Autobahn print them. */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/[^0-9a-fA-F]/g, ''), 'hex');
}

export function acceptKeyFor(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

/** A seeded PRNG (mulberry32) so that a failing random split can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Chunk sizes that cut `total` bytes at random points, each chunk 1..maxChunk bytes. */
export function randomChunks(total: number, maxChunk: number, random: () => number): number[] {
  const sizes: number[] = [];
  for (let left = total; left > 0; ) {
    const size = Math.min(left, 1 + Math.floor(random() * maxChunk));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

// ---------------------------------------------------------------- frame codec (RFC 6455 §5.2)

export interface FrameSpec {
  /** Default true. */
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** Any 4-bit value, reserved ones included. */
  opcode: number;
  payload?: Bytes;
  /** true: a fresh random key; bytes: that key; false: unmasked. Peers default by role (§5.3). */
  mask?: boolean | Uint8Array;
  /** Force a length encoding, minimal or not. */
  lengthBits?: 7 | 16 | 64;
  /** The length written in the header when it should differ from the payload actually attached. */
  declaredLength?: number | bigint;
}

export interface Frame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  maskKey: Buffer | undefined;
  /** Unmasked payload. */
  payload: Buffer;
  /** RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length". */
  minimalLength: boolean;
}

let maskPool = Buffer.alloc(0);
let maskPoolOffset = 0;

/** A random mask key; drawn from a pool because one crypto call per tiny frame dominates 65536-frame messages. */
function freshMaskKey(): Buffer {
  if (maskPoolOffset + 4 > maskPool.length) {
    maskPool = randomBytes(64 * 1024);
    maskPoolOffset = 0;
  }
  maskPoolOffset += 4;
  return maskPool.subarray(maskPoolOffset - 4, maskPoolOffset);
}

export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = toBuffer(spec.payload);
  const declared = BigInt(spec.declaredLength ?? payload.length);
  const lengthBits = spec.lengthBits ?? (declared < 126n ? 7 : declared < 65536n ? 16 : 64);
  const maskKey = spec.mask === true ? freshMaskKey() : spec.mask instanceof Uint8Array ? Buffer.from(spec.mask) : undefined;
  if (maskKey !== undefined && maskKey.length !== 4) throw new RangeError('a mask key is 4 bytes');
  const extended = lengthBits === 7 ? 0 : lengthBits === 16 ? 2 : 8;
  const headerLength = 2 + extended + (maskKey === undefined ? 0 : 4);
  const out = Buffer.allocUnsafe(headerLength + payload.length);
  out[0] =
    (spec.fin === false ? 0 : 0x80) |
    (spec.rsv1 === true ? 0x40 : 0) |
    (spec.rsv2 === true ? 0x20 : 0) |
    (spec.rsv3 === true ? 0x10 : 0) |
    (spec.opcode & 0x0f);
  const maskBit = maskKey === undefined ? 0 : 0x80;
  if (lengthBits === 7) {
    if (declared > 125n) throw new RangeError('a 7-bit length holds at most 125');
    out[1] = maskBit | Number(declared);
  } else if (lengthBits === 16) {
    if (declared > 0xffffn) throw new RangeError('a 16-bit length holds at most 65535');
    out[1] = maskBit | 126;
    out.writeUInt16BE(Number(declared), 2);
  } else {
    out[1] = maskBit | 127;
    out.writeBigUInt64BE(BigInt.asUintN(64, declared), 2);
  }
  if (maskKey === undefined) {
    payload.copy(out, headerLength);
  } else {
    maskKey.copy(out, headerLength - 4);
    for (let i = 0; i < payload.length; i++) out[headerLength + i] = payload[i]! ^ maskKey[i & 3]!;
  }
  return out;
}

/** Decodes one frame at the start of `bytes`; undefined while incomplete. Throws on a length no sane peer sends. */
export function decodeFrame(bytes: Buffer): { frame: Frame; size: number } | undefined {
  if (bytes.length < 2) return undefined;
  const b0 = bytes[0]!;
  const b1 = bytes[1]!;
  const masked = (b1 & 0x80) !== 0;
  const short = b1 & 0x7f;
  let offset = 2;
  let length: number;
  let minimalLength = true;
  if (short === 126) {
    if (bytes.length < 4) return undefined;
    length = bytes.readUInt16BE(2);
    minimalLength = length >= 126;
    offset = 4;
  } else if (short === 127) {
    if (bytes.length < 10) return undefined;
    const big = bytes.readBigUInt64BE(2);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`peer announced a ${big} byte payload`);
    length = Number(big);
    minimalLength = length > 0xffff;
    offset = 10;
  } else {
    length = short;
  }
  const maskKey = masked ? bytes.subarray(offset, offset + 4) : undefined;
  if (masked) offset += 4;
  if (bytes.length < offset + length) return undefined;
  const payload = Buffer.from(bytes.subarray(offset, offset + length));
  if (maskKey !== undefined) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ maskKey[i & 3]!;
  const frame: Frame = {
    fin: (b0 & 0x80) !== 0,
    rsv1: (b0 & 0x40) !== 0,
    rsv2: (b0 & 0x20) !== 0,
    rsv3: (b0 & 0x10) !== 0,
    opcode: b0 & 0x0f,
    masked,
    maskKey: maskKey === undefined ? undefined : Buffer.from(maskKey),
    payload,
    minimalLength,
  };
  return { frame, size: offset + length };
}

/** A close frame's payload (RFC 6455 §5.5.1): nothing, or a 2-byte code and a reason. */
export function closePayload(code?: number, reason: Bytes = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code & 0xffff);
  return Buffer.concat([head, toBuffer(reason)]);
}

export function parseClosePayload(payload: Buffer): { code: number | undefined; reason: Buffer } {
  if (payload.length < 2) return { code: undefined, reason: Buffer.alloc(0) };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2) };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function isUtf8(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

export function describeFrame(frame: Frame): string {
  const bits = `${frame.fin ? 'F' : '-'}${frame.rsv1 ? '1' : '-'}${frame.rsv2 ? '2' : '-'}${frame.rsv3 ? '3' : '-'}`;
  const shown = frame.payload.length > 32 ? `${frame.payload.subarray(0, 32).toString('hex')}…` : frame.payload.toString('hex');
  return `[op=${frame.opcode} ${bits}${frame.masked ? ' masked' : ''} len=${frame.payload.length} ${shown}]`;
}

// ---------------------------------------------------------------- permessage-deflate, on our side

export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

export interface ExtensionElement {
  name: string;
  params: Map<string, string | true>;
  /** A parameter named twice. */
  repeated: boolean;
}

/** Parses a Sec-WebSocket-Extensions value (RFC 6455 §9.1), quoted values included. */
export function parseExtensions(value: string | undefined): ExtensionElement[] {
  if (value === undefined || value.trim() === '') return [];
  return value.split(',').map((element) => {
    const [name = '', ...rest] = element.split(';').map((part) => part.trim());
    const params = new Map<string, string | true>();
    let repeated = false;
    for (const part of rest) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
      const raw = eq < 0 ? true : part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      if (params.has(key)) repeated = true;
      params.set(key, raw);
    }
    return { name: name.toLowerCase(), params, repeated };
  });
}

/** What a permessage-deflate response commits both sides to (RFC 7692 §7.1); throws on a malformed one. */
export function deflateParamsFrom(element: ExtensionElement): DeflateParams {
  const bits = (name: string): number => {
    const value = element.params.get(name);
    if (value === undefined) return 15;
    if (value === true || !/^[0-9]+$/.test(value)) throw new Error(`${name} without a valid value`);
    const n = Number(value);
    if (n < 8 || n > 15) throw new Error(`${name}=${n} is outside 8..15`);
    return n;
  };
  for (const key of element.params.keys()) {
    if (!['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits'].includes(key)) {
      throw new Error(`unknown permessage-deflate parameter ${key}`);
    }
  }
  return {
    serverNoContextTakeover: element.params.has('server_no_context_takeover'),
    clientNoContextTakeover: element.params.has('client_no_context_takeover'),
    serverMaxWindowBits: bits('server_max_window_bits'),
    clientMaxWindowBits: bits('client_max_window_bits'),
  };
}

const Z_SYNC = zlib.constants.Z_SYNC_FLUSH;

function keepLast(history: Buffer, data: Buffer, windowBits: number): Buffer {
  const size = 1 << windowBits;
  if (data.length >= size) return Buffer.from(data.subarray(data.length - size));
  const joined = Buffer.concat([history, data]);
  return joined.length > size ? Buffer.from(joined.subarray(joined.length - size)) : joined;
}

/**
 * Our side of a negotiated permessage-deflate: one-shot zlib calls where the LZ77 window carried
 * between messages (context takeover) is passed as a dictionary. Inflating in small output chunks
 * with the agreed window makes zlib reject a back-reference farther than that window, so a peer that
 * ignores max_window_bits or no_context_takeover fails here with "invalid distance too far back".
 */
export class DeflateCodec {
  private sentHistory: Buffer = Buffer.alloc(0);
  private receivedHistory: Buffer = Buffer.alloc(0);

  constructor(
    readonly params: DeflateParams,
    readonly role: PeerRole,
  ) {}

  private get own(): { bits: number; reset: boolean } {
    const p = this.params;
    return this.role === 'client'
      ? { bits: p.clientMaxWindowBits, reset: p.clientNoContextTakeover }
      : { bits: p.serverMaxWindowBits, reset: p.serverNoContextTakeover };
  }

  private get peer(): { bits: number; reset: boolean } {
    const p = this.params;
    return this.role === 'client'
      ? { bits: p.serverMaxWindowBits, reset: p.serverNoContextTakeover }
      : { bits: p.clientMaxWindowBits, reset: p.clientNoContextTakeover };
  }

  /** Compresses one message (RFC 7692 §7.2.1): deflate, sync flush, drop the 00 00 ff ff tail. */
  compress(data: Bytes): Buffer {
    const input = toBuffer(data);
    const { bits, reset } = this.own;
    // zlib has no raw 8-bit deflate window; 9 bits with its 262-byte lookahead never reaches past 250.
    const options: zlib.ZlibOptions = { finishFlush: Z_SYNC, windowBits: Math.max(bits, 9) };
    if (!reset && this.sentHistory.length > 0) options.dictionary = this.sentHistory;
    const out = zlib.deflateRawSync(input, options);
    if (!reset) this.sentHistory = keepLast(this.sentHistory, input, bits);
    return out.subarray(-4).equals(SYNC_FLUSH_TAIL) ? out.subarray(0, -4) : out;
  }

  /** Decompresses one message received from the peer; throws when the peer broke the agreed window. */
  decompress(payload: Buffer): Buffer {
    const { bits, reset } = this.peer;
    const options: zlib.ZlibOptions = { finishFlush: Z_SYNC, windowBits: bits };
    if (bits < 15) options.chunkSize = 64; // zlib's minimum: a reference up to 64 bytes past the window could hide in one chunk
    if (!reset && this.receivedHistory.length > 0) options.dictionary = this.receivedHistory;
    const out = zlib.inflateRawSync(Buffer.concat([payload, SYNC_FLUSH_TAIL]), options);
    if (!reset) this.receivedHistory = keepLast(this.receivedHistory, out, bits);
    return out;
  }
}

// ---------------------------------------------------------------- HTTP heads

export class HttpHead {
  readonly startLine: string;
  readonly headers: [string, string][];

  constructor(readonly raw: string) {
    const lines = raw.replace(/\r\n\r\n$/, '').split('\r\n');
    this.startLine = lines[0] ?? '';
    this.headers = lines.slice(1).map((line) => {
      const colon = line.indexOf(':');
      return colon < 0 ? [line, ''] : [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
    });
  }

  /** Every value of a header, one per line (case-insensitive name). */
  all(name: string): string[] {
    const lower = name.toLowerCase();
    return this.headers.filter(([key]) => key.toLowerCase() === lower).map(([, value]) => value);
  }

  /** The header's lines joined with ", " (RFC 9110 §5.3), undefined when absent. */
  get(name: string): string | undefined {
    const values = this.all(name);
    return values.length === 0 ? undefined : values.join(', ');
  }
}

export class HttpResponse extends HttpHead {
  readonly httpVersion: string;
  readonly status: number;
  readonly reason: string;
  body: Buffer = Buffer.alloc(0);

  constructor(raw: string) {
    super(raw);
    const match = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(this.startLine);
    this.httpVersion = match?.[1] ?? '';
    this.status = Number(match?.[2] ?? 0);
    this.reason = match?.[3] ?? '';
  }
}

export class HttpRequest extends HttpHead {
  readonly method: string;
  readonly target: string;
  readonly httpVersion: string;

  constructor(raw: string) {
    super(raw);
    const [method = '', target = '', httpVersion = ''] = this.startLine.split(' ');
    this.method = method;
    this.target = target;
    this.httpVersion = httpVersion;
  }
}

// ---------------------------------------------------------------- socket reading

/** The bytes a socket delivered and not yet consumed, with a way to wait for more. */
export class SocketReader {
  private chunks: Buffer[] = [];
  length = 0;
  /** The peer sent FIN, or the socket closed or failed. */
  ended = false;
  closed = false;
  error: Error | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
      this.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('error', (error: Error) => {
      // ECONNRESET and EPIPE are how a peer that fails the connection often looks.
      this.error = error;
      this.ended = true;
      this.notify();
    });
    socket.on('close', () => {
      this.ended = true;
      this.closed = true;
      this.notify();
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** The first `n` buffered bytes without consuming them (n <= length). */
  peek(n: number): Buffer {
    if (this.chunks.length > 0 && this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    const out = Buffer.alloc(n);
    let filled = 0;
    for (const chunk of this.chunks) {
      if (filled >= n) break;
      filled += chunk.copy(out, filled, 0, Math.min(chunk.length, n - filled));
    }
    return out;
  }

  take(n: number): Buffer {
    const out = this.peek(n);
    let left = n;
    while (left > 0) {
      const first = this.chunks[0]!;
      if (first.length <= left) {
        this.chunks.shift();
        left -= first.length;
      } else {
        this.chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.length -= n;
    return out;
  }

  takeAll(): Buffer {
    return this.take(this.length);
  }

  /** Resolves once `ready()` returns a value; rejects on timeout, or when the socket ends first. */
  waitFor<T>(ready: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        let value: T | undefined;
        try {
          value = ready();
        } catch (error) {
          done();
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (this.ended) {
          done();
          const buffered = this.length > 0 ? ` (${this.length} bytes left: ${this.peek(Math.min(this.length, 40)).toString('hex')})` : '';
          reject(new Error(`connection closed while waiting for ${what}${buffered}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves when the socket ends (FIN, reset or close); rejects on timeout. */
  waitForEnd(timeoutMs: number): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!this.ended) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for the TCP connection to close`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** Reads an HTTP head up to and including the blank line. */
  async readHead(timeoutMs: number, maxBytes = 256 * 1024): Promise<string> {
    const end = await this.waitFor(
      () => {
        const seen = this.peek(Math.min(this.length, maxBytes));
        const at = seen.indexOf('\r\n\r\n');
        if (at >= 0) return at + 4;
        if (this.length > maxBytes) throw new Error(`no end of HTTP head within ${maxBytes} bytes`);
        return undefined;
      },
      timeoutMs,
      'an HTTP head',
    );
    return this.take(end).toString('latin1');
  }
}

// ---------------------------------------------------------------- the raw peer (either side)

export type PeerRole = 'client' | 'server';

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

/** A frame's full size from its header bytes, or undefined while the header is incomplete. */
function frameSize(head: Buffer): number | undefined {
  const short = head[1]! & 0x7f;
  const maskBytes = (head[1]! & 0x80) !== 0 ? 4 : 0;
  if (short < 126) return 2 + maskBytes + short;
  if (short === 126) return head.length < 4 ? undefined : 4 + maskBytes + head.readUInt16BE(2);
  if (head.length < 10) return undefined;
  const big = head.readBigUInt64BE(2);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`peer announced a ${big} byte payload`);
  return 10 + maskBytes + Number(big);
}

// ---------------------------------------------------------------- raw client

export interface ConnectOptions {
  host?: string;
  path?: string;
  method?: string;
  httpVersion?: string;
  /** Sec-WebSocket-Key; a fresh valid one by default. */
  key?: string;
  /** Merged over the default headers (case-insensitive); null removes one, an array writes several lines. */
  headers?: Record<string, string | string[] | null>;
  protocols?: string[];
  /** Sec-WebSocket-Extensions value, e.g. "permessage-deflate; client_max_window_bits". */
  extensions?: string;
  /** Exactly these bytes instead of a built request. */
  request?: Bytes;
  /** Bytes written in the same TCP write right after the request (frames before the 101 arrives). */
  extraRequestBytes?: Uint8Array;
  /** Write the request in pieces (see WriteOptions). */
  requestSplit?: WriteOptions;
  timeoutMs?: number;
}

/** The raw client's peer, with the handshake response it got. */
export class RawClient extends RawPeer {
  constructor(
    reader: SocketReader,
    readonly key: string,
    public response: HttpResponse,
  ) {
    super('client', reader);
  }
}

export function buildRequest(port: number, options: ConnectOptions, key: string): string {
  const defaults: [string, string | string[]][] = [
    ['Host', `${options.host ?? '127.0.0.1'}:${port}`],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', key],
    ['Sec-WebSocket-Version', '13'],
  ];
  if (options.protocols !== undefined) defaults.push(['Sec-WebSocket-Protocol', options.protocols.join(', ')]);
  if (options.extensions !== undefined) defaults.push(['Sec-WebSocket-Extensions', options.extensions]);
  const lines = new Map<string, [string, string | string[] | null]>();
  for (const [name, value] of defaults) lines.set(name.toLowerCase(), [name, value]);
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.set(name.toLowerCase(), [name, value]);
  let head = `${options.method ?? 'GET'} ${options.path ?? '/'} ${options.httpVersion ?? 'HTTP/1.1'}\r\n`;
  for (const [name, value] of lines.values()) {
    if (value === null) continue;
    for (const one of Array.isArray(value) ? value : [value]) head += `${name}: ${one}\r\n`;
  }
  return `${head}\r\n`;
}

export function openTcp(port: number, host = '127.0.0.1'): Promise<SocketReader> {
  return new Promise((resolve, reject) => {
    // Like any TCP stack, our side ends when the endpoint's FIN arrives (allowHalfOpen false).
    const socket = net.connect({ port, host });
    socket.setNoDelay(true);
    const reader = new SocketReader(socket);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(reader);
    });
    socket.once('error', reject);
  });
}

/** Reads a non-101 response's body: Content-Length bytes, or up to the TCP close. */
async function readBody(reader: SocketReader, response: HttpResponse, timeoutMs: number): Promise<void> {
  const lengthHeader = response.get('content-length');
  if (lengthHeader !== undefined) {
    const length = Number(lengthHeader);
    await reader.waitFor(() => (reader.length >= length ? true : undefined), timeoutMs, 'the response body').catch(() => undefined);
    response.body = reader.take(Math.min(length, reader.length));
  } else {
    await reader.waitForEnd(timeoutMs).catch(() => undefined);
    response.body = reader.takeAll();
  }
}

/**
 * Opens TCP, writes a handshake request we control and parses the response. On a 101 the rest of
 * the stream is frames; otherwise the body is read and the peer is returned for TCP checks.
 */
export async function connectRaw(port: number, options: ConnectOptions = {}): Promise<RawClient> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const key = options.key ?? randomBytes(16).toString('base64');
  const reader = await openTcp(port, options.host);
  const request = options.request !== undefined ? toBuffer(options.request) : Buffer.from(buildRequest(port, options, key), 'latin1');
  const peer = new RawClient(reader, key, new HttpResponse(''));
  await peer.writeRaw(Buffer.concat([request, options.extraRequestBytes ?? Buffer.alloc(0)]), options.requestSplit);
  let head: string;
  try {
    head = await reader.readHead(timeoutMs);
  } catch (error) {
    reader.socket.destroy();
    throw error;
  }
  peer.response = new HttpResponse(head);
  if (peer.response.status === 101) {
    const offered = parseExtensions(peer.response.get('sec-websocket-extensions'));
    const pmd = offered.find((e) => e.name === 'permessage-deflate');
    if (pmd !== undefined) peer.deflate = new DeflateCodec(deflateParamsFrom(pmd), 'client');
  } else {
    await readBody(reader, peer.response, timeoutMs);
  }
  return peer;
}

/** connectRaw that insists on a valid 101 (RFC 6455 §4.2.2) before handing the peer over. */
export async function openWebSocket(port: number, options: ConnectOptions = {}): Promise<RawClient> {
  const peer = await connectRaw(port, options);
  const res = peer.response;
  const problems: string[] = [];
  if (res.status !== 101) problems.push(`status ${res.status} ${res.reason} (${res.body.toString().slice(0, 200)})`);
  if (res.get('upgrade')?.toLowerCase() !== 'websocket') problems.push(`Upgrade: ${res.get('upgrade')}`);
  if (!/(^|,)\s*upgrade\s*(,|$)/i.test(res.get('connection') ?? '')) problems.push(`Connection: ${res.get('connection')}`);
  if (res.get('sec-websocket-accept') !== acceptKeyFor(peer.key)) problems.push(`Sec-WebSocket-Accept: ${res.get('sec-websocket-accept')}`);
  if (problems.length > 0) {
    peer.destroy();
    throw new Error(`bad opening handshake response: ${problems.join('; ')}`);
  }
  return peer;
}

/** Writes bytes that may not be a handshake at all and collects whatever comes back until TCP closes. */
export async function rawExchange(
  port: number,
  bytes: Bytes,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<{ response: HttpResponse | undefined; raw: Buffer; closed: boolean }> {
  const reader = await openTcp(port);
  reader.socket.write(toBuffer(bytes));
  const closed = await reader.waitForEnd(timeoutMs).then(
    () => true,
    () => false,
  );
  const raw = reader.takeAll();
  reader.socket.destroy();
  const headEnd = raw.indexOf('\r\n\r\n');
  let response: HttpResponse | undefined;
  if (raw.subarray(0, 5).toString('latin1') === 'HTTP/' && headEnd >= 0) {
    response = new HttpResponse(raw.subarray(0, headEnd + 4).toString('latin1'));
    response.body = raw.subarray(headEnd + 4);
  }
  return { response, raw, closed };
}

// ---------------------------------------------------------------- raw server

export interface AcceptOptions {
  /** Sec-WebSocket-Protocol value to answer with. */
  protocol?: string;
  /** Sec-WebSocket-Extensions value to answer with; permessage-deflate in it is then used by our side. */
  extensions?: string;
  /** Replaces Sec-WebSocket-Accept (a wrong one, on purpose). */
  acceptValue?: string;
  statusLine?: string;
  /** Merged over the default response headers; null removes one. */
  headers?: Record<string, string | null>;
  /** Written in the same TCP write right after the response (e.g. a first frame). */
  extraBytes?: Uint8Array;
}

export class RawServerConnection {
  request: HttpRequest | undefined;

  constructor(readonly reader: SocketReader) {}

  get socket(): net.Socket {
    return this.reader.socket;
  }

  async readRequest(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<HttpRequest> {
    this.request = new HttpRequest(await this.reader.readHead(timeoutMs));
    return this.request;
  }

  writeRaw(bytes: Bytes): Promise<void> {
    return new Promise((resolve) => this.socket.write(toBuffer(bytes), () => resolve()));
  }

  /** Answers the handshake (a correct 101 unless overridden) and returns our side as a server peer. */
  async accept(options: AcceptOptions = {}): Promise<RawPeer> {
    const request = this.request ?? (await this.readRequest());
    const key = request.get('sec-websocket-key') ?? '';
    const lines = new Map<string, [string, string | null]>([
      ['upgrade', ['Upgrade', 'websocket']],
      ['connection', ['Connection', 'Upgrade']],
      ['sec-websocket-accept', ['Sec-WebSocket-Accept', options.acceptValue ?? acceptKeyFor(key)]],
    ]);
    if (options.protocol !== undefined) lines.set('sec-websocket-protocol', ['Sec-WebSocket-Protocol', options.protocol]);
    if (options.extensions !== undefined) lines.set('sec-websocket-extensions', ['Sec-WebSocket-Extensions', options.extensions]);
    for (const [name, value] of Object.entries(options.headers ?? {})) lines.set(name.toLowerCase(), [name, value]);
    let head = `${options.statusLine ?? 'HTTP/1.1 101 Switching Protocols'}\r\n`;
    for (const [name, value] of lines.values()) if (value !== null) head += `${name}: ${value}\r\n`;
    head += '\r\n';
    await this.writeRaw(Buffer.concat([Buffer.from(head, 'latin1'), options.extraBytes ?? Buffer.alloc(0)]));
    const peer = new RawPeer('server', this.reader);
    // A malformed answer (sent on purpose to see the client fail) leaves our side uncompressed.
    const pmd = parseExtensions(options.extensions).filter((e) => e.name === 'permessage-deflate');
    try {
      if (pmd.length === 1 && !pmd[0]!.repeated) peer.deflate = new DeflateCodec(deflateParamsFrom(pmd[0]!), 'server');
    } catch {
      peer.deflate = undefined;
    }
    return peer;
  }
}

export interface RawServer {
  port: number;
  url: string;
  /** The next accepted TCP connection (in accept order). */
  nextConnection(timeoutMs?: number): Promise<RawServerConnection>;
  close(): Promise<void>;
}

/**
 * A TCP server that hands each connection to the test untouched: the test reads the client's
 * handshake request and answers with exactly the bytes it wants. `handler`, when given, is
 * called for every connection instead of queueing it for nextConnection().
 */
export async function startRawServer(handler?: (connection: RawServerConnection) => void | Promise<void>): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const queued: RawServerConnection[] = [];
  const waiting: ((connection: RawServerConnection) => void)[] = [];
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const connection = new RawServerConnection(new SocketReader(socket));
    if (handler !== undefined) {
      void Promise.resolve(handler(connection)).catch(() => socket.destroy());
      return;
    }
    const taker = waiting.shift();
    if (taker !== undefined) taker(connection);
    else queued.push(connection);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/`,
    nextConnection(timeoutMs = DEFAULT_TIMEOUT_MS) {
      const ready = queued.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return withTimeout(new Promise<RawServerConnection>((resolve) => waiting.push(resolve)), timeoutMs, 'a TCP connection from the client');
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------- isolation

/**
 * Runs `body` while a second, well-behaved connection to the same server echoes before and after:
 * one connection's bad input must never disturb another (RFC 6455 §7.1.7 fails *that* connection).
 */
export async function withBystander<T>(port: number, body: () => Promise<T>, options: ConnectOptions = {}): Promise<T> {
  const bystander = await openWebSocket(port, options);
  await bystander.expectEcho('bystander before');
  let result: T;
  try {
    result = await body();
  } catch (error) {
    bystander.destroy(); // a failed case must not hold the server's shutdown for its close timeout
    throw error;
  }
  await bystander.expectEcho(Buffer.from([0, 1, 2, 0xff]), { binary: true });
  await bystander.expectEcho('bystander after');
  await bystander.closeHandshake(1000);
  return result;
}

// ---------------------------------------------------------------- endpoints under test

/** Maps a TCP port to the application object of the connection on it (the server's side of a raw client). */
export class AppRegistry<App> {
  private readonly apps = new Map<number, App>();
  private readonly waiting = new Map<number, (app: App) => void>();

  register(port: number | undefined, app: App): void {
    if (port === undefined) return;
    const waiter = this.waiting.get(port);
    if (waiter !== undefined) {
      this.waiting.delete(port);
      waiter(app);
    } else {
      this.apps.set(port, app);
    }
  }

  get(port: number | undefined, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<App> {
    if (port === undefined) return Promise.reject(new Error('no local port'));
    const app = this.apps.get(port);
    if (app !== undefined) return Promise.resolve(app);
    return withTimeout(new Promise<App>((resolve) => this.waiting.set(port, resolve)), timeoutMs, `the connection event for port ${port}`);
  }
}

export interface TargetConnection<App> {
  /** Our raw side. */
  peer: RawPeer;
  /** The endpoint's application object: the server's WebSocket for this connection, or the client. */
  app: Promise<App>;
}

export interface OpenOptions {
  /** Server side: the extensions we offer. Client side: the extensions our raw server answers with. */
  extensions?: string;
  /** Server side only: more of the request. */
  connect?: ConnectOptions;
  /** Client side only: more of the response. */
  accept?: AcceptOptions;
}

/** An endpoint under test reached through a raw peer: a server we connect to, or a client that connects to us. */
export interface Target<App> {
  readonly side: 'server' | 'client';
  open(options?: OpenOptions): Promise<TargetConnection<App>>;
  /** Runs `body` while another connection to the same endpoint keeps echoing before and after. */
  isolate<T>(body: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A server under test on `port`, whose connections echo; `apps` finds the server-side object of each. */
export function serverTarget<App>(port: number, apps: AppRegistry<App>, close: () => Promise<void> = () => Promise.resolve()): Target<App> {
  return {
    side: 'server',
    async open(options = {}) {
      const connect: ConnectOptions = { ...options.connect };
      if (options.extensions !== undefined) connect.extensions = options.extensions;
      const peer = await openWebSocket(port, connect);
      let app: Promise<App> | undefined;
      // Looked up only when a test asks, so cases that never do leave no timer behind.
      return {
        peer,
        get app() {
          return (app ??= apps.get(peer.socket.localPort));
        },
      };
    },
    isolate: (body) => withBystander(port, body),
    close,
  };
}

/** Checks a client's opening handshake request (RFC 6455 §4.1); returns the problems found. */
export function clientRequestProblems(request: HttpRequest): string[] {
  const problems: string[] = [];
  if (request.method !== 'GET') problems.push(`method ${request.method}`);
  if (request.httpVersion !== 'HTTP/1.1') problems.push(`version ${request.httpVersion}`);
  if (request.get('host') === undefined) problems.push('no Host');
  if (request.get('upgrade')?.toLowerCase() !== 'websocket') problems.push(`Upgrade: ${request.get('upgrade')}`);
  if (!/(^|,)\s*upgrade\s*(,|$)/i.test(request.get('connection') ?? '')) problems.push(`Connection: ${request.get('connection')}`);
  const key = request.get('sec-websocket-key') ?? '';
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key) || Buffer.from(key, 'base64').length !== 16) problems.push(`Sec-WebSocket-Key: ${key}`);
  if (request.get('sec-websocket-version') !== '13') problems.push(`Sec-WebSocket-Version: ${request.get('sec-websocket-version')}`);
  return problems;
}

/**
 * A client under test: `startClient(url)` creates one (an echoing client) that connects to our raw
 * server. Each open() gets its own URL so concurrent tests never swap connections.
 */
export async function clientTarget<App>(startClient: (url: string) => App): Promise<Target<App>> {
  const pending = new Map<string, (connection: RawServerConnection) => void>();
  const server = await startRawServer(async (connection) => {
    const request = await connection.readRequest();
    const id = new URL(request.target, 'http://x').searchParams.get('id') ?? '';
    const taker = pending.get(id);
    if (taker === undefined) {
      connection.socket.destroy();
      return;
    }
    pending.delete(id);
    taker(connection);
  });
  let nextId = 0;
  const open = async (options: OpenOptions = {}): Promise<TargetConnection<App>> => {
    const id = String(++nextId);
    const arrived = new Promise<RawServerConnection>((resolve) => pending.set(id, resolve));
    const app = startClient(`${server.url}?id=${id}`);
    const connection = await withTimeout(arrived, DEFAULT_TIMEOUT_MS, 'the client under test to connect');
    const problems = clientRequestProblems(connection.request!);
    if (problems.length > 0) throw new Error(`bad opening handshake request: ${problems.join('; ')}`);
    const accept: AcceptOptions = { ...options.accept };
    if (options.extensions !== undefined) accept.extensions = options.extensions;
    return { peer: await connection.accept(accept), app: Promise.resolve(app) };
  };
  return {
    side: 'client',
    open,
    async isolate<T>(body: () => Promise<T>) {
      const { peer } = await open();
      await peer.expectEcho('bystander before');
      let result: T;
      try {
        result = await body();
      } catch (error) {
        peer.destroy();
        throw error;
      }
      await peer.expectEcho('bystander after');
      await peer.closeHandshake(1000);
      return result;
    },
    close: () => server.close(),
  };
}

/** Close codes that may appear on the wire (RFC 6455 §7.4), written here rather than imported. */
export function isValidWireCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/**
 * Defines the same cases twice, in concurrent suites: against the server (raw client → server
 * under test) and against the client (client under test → raw server). `start` builds the target.
 */
export function forBothSides<App>(
  start: (side: 'server' | 'client') => Promise<Target<App>>,
  define: (side: 'server' | 'client', target: () => Target<App>) => void,
): void {
  describe('server and client', { concurrency: true }, () => {
    for (const side of ['server', 'client'] as const) {
      describe(`${side} side`, { concurrency: true }, () => {
        let target: Target<App> | undefined;
        before(async () => {
          target = await start(side);
        });
        after(() => target?.close());
        define(side, () => target!);
      });
    }
  });
}

/**
 * The endpoint must fail the connection with `code` after `send`, having sent nothing before its
 * close frame but the echoes of the valid text messages `echoed`; meanwhile another connection to
 * the same endpoint keeps echoing.
 */
export async function expectFailure<App>(
  target: Target<App>,
  send: (peer: RawPeer) => Promise<void>,
  code: number,
  echoed: Bytes[] = [],
): Promise<CloseResult> {
  return target.isolate(async () => {
    const { peer } = await target.open();
    await send(peer);
    const result = await peer.expectClose(code).catch((error: unknown) => {
      peer.destroy();
      throw error;
    });
    assert.deepEqual(
      result.skipped.map((frame) => [frame.opcode, frame.payload.toString('hex')]),
      echoed.map((payload) => [Opcode.TEXT, toBuffer(payload).toString('hex')]),
      'only the echoes of the valid messages may come before the close frame',
    );
    await peer.finishClosingHandshake(result.code);
    return result;
  });
}
