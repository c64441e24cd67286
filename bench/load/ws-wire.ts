// The client side of the wire for the Node load generator, kept minimal and separate from src/ so
// the load does not depend on the code it measures: the upgrade request and its checked answer
// (RFC 6455 §4.1), masked client frames (§5.3), and a stream parser for unmasked server frames
// that copes with any split of the TCP reads. Also the 4-byte length framing of `wsload raw`.

import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const Op = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;

type MaskFn = (source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number) => void;
/** bufferutil's native masking when installed (it is a dev dependency), else a JS loop. */
const nativeMask: MaskFn | null = (() => {
  try {
    return (createRequire(import.meta.url)('bufferutil') as { mask: MaskFn }).mask;
  } catch {
    return null;
  }
})();

function maskInto(source: Buffer, key: Buffer, output: Buffer, offset: number): void {
  if (nativeMask !== null && source.length >= 64) {
    nativeMask(source, key, output, offset, source.length);
    return;
  }
  for (let i = 0; i < source.length; i++) output[offset + i] = source[i]! ^ key[i & 3]!;
}

// Mask keys come from a pool of random bytes refilled in bulk (RFC 6455 §5.3: unpredictable keys).
const keyPool = Buffer.alloc(64 * 1024);
let keyOffset = keyPool.length;
function nextMaskKey(): Buffer {
  if (keyOffset + 4 > keyPool.length) {
    randomFillSync(keyPool);
    keyOffset = 0;
  }
  keyOffset += 4;
  return keyPool.subarray(keyOffset - 4, keyOffset);
}

/** One complete masked client frame (FIN set). */
export function encodeClientFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const header = n < 126 ? 2 : n <= 0xffff ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + 4 + n);
  frame[0] = 0x80 | opcode;
  if (n < 126) {
    frame[1] = 0x80 | n;
  } else if (n <= 0xffff) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(n), 2);
  }
  const key = nextMaskKey();
  key.copy(frame, header);
  maskInto(payload, key, frame, header + 4);
  return frame;
}

/** A message of `wsload raw`: 4-byte big-endian length, then the payload. */
export function encodeRawMessage(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  payload.copy(out, 4);
  return out;
}

export interface UpgradeRequest {
  request: string;
  expectedAccept: string;
}

export function upgradeRequest(host: string, port: number): UpgradeRequest {
  const key = randomBytes(16).toString('base64');
  return {
    request: `GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    expectedAccept: createHash('sha1').update(key + GUID).digest('base64'),
  };
}

export type UpgradeAnswer = { done: false } | { done: true; error: string | null; rest: Buffer };

/** Checks the server's answer once its head is complete (101, Upgrade: websocket, the accept key). */
export function checkUpgradeAnswer(received: Buffer, expectedAccept: string): UpgradeAnswer {
  const end = received.indexOf('\r\n\r\n');
  if (end < 0) return received.length > 16384 ? { done: true, error: 'handshake answer too large', rest: Buffer.alloc(0) } : { done: false };
  const lines = received.subarray(0, end).toString('latin1').split('\r\n');
  const rest = received.subarray(end + 4);
  if (!lines[0]?.startsWith('HTTP/1.1 101')) return { done: true, error: `upgrade refused: ${lines[0] ?? ''}`, rest };
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  if (headers.get('upgrade')?.toLowerCase() !== 'websocket') return { done: true, error: 'missing Upgrade: websocket', rest };
  if (headers.get('sec-websocket-accept') !== expectedAccept) return { done: true, error: 'bad Sec-WebSocket-Accept', rest };
  return { done: true, error: null, rest };
}

export type OnFrameMessage = (opcode: number, payload: Buffer) => void;
export type OnControl = (opcode: number, payload: Buffer) => void;

/**
 * Parses a stream into messages: WebSocket server frames (unmasked, fragmented messages joined),
 * or, with `raw`, 4-byte length-prefixed messages. Returns an error string on a protocol fault.
 */
export class StreamParser {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private needBytes = 0;
  private fragments: Buffer[] = [];
  private fragmentOpcode = 0;

  constructor(
    private readonly raw: boolean,
    private readonly onMessage: OnFrameMessage,
    private readonly onControl: OnControl,
  ) {}

  push(chunk: Buffer): string | null {
    let input = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.needBytes) return null;
      input = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let pos = 0;
    while (pos < input.length) {
      const step = this.raw ? this.rawStep(input, pos) : this.frameStep(input, pos);
      if (typeof step === 'string') return step;
      if (step === 0) break;
      pos += step;
    }
    if (pos < input.length) {
      const rest = input.subarray(pos);
      this.pending = [rest];
      this.pendingBytes = rest.length;
    }
    return null;
  }

  /** Consumes one raw message at pos; 0 when incomplete (needBytes says how much is wanted). */
  private rawStep(input: Buffer, pos: number): number {
    if (input.length - pos < 4) {
      this.needBytes = 4;
      return 0;
    }
    const size = 4 + input.readUInt32BE(pos);
    if (input.length - pos < size) {
      this.needBytes = size;
      return 0;
    }
    this.onMessage(Op.BINARY, input.subarray(pos + 4, pos + size));
    return size;
  }

  private frameStep(input: Buffer, pos: number): number | string {
    const avail = input.length - pos;
    this.needBytes = 2;
    if (avail < 2) return 0;
    const b0 = input[pos]!;
    const b1 = input[pos + 1]!;
    if (b1 & 0x80) return 'masked frame from server';
    if (b0 & 0x70) return 'reserved bits set';
    let length = b1 & 0x7f;
    let header = 2;
    if (length === 126) {
      header = 4;
      if (avail < 4) return ((this.needBytes = 4), 0);
      length = input.readUInt16BE(pos + 2);
    } else if (length === 127) {
      header = 10;
      if (avail < 10) return ((this.needBytes = 10), 0);
      length = Number(input.readBigUInt64BE(pos + 2));
    }
    if (avail < header + length) return ((this.needBytes = header + length), 0);
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    const payload = input.subarray(pos + header, pos + header + length);
    if (opcode >= Op.CLOSE) {
      if (!fin || length > 125) return 'bad control frame';
      this.onControl(opcode, payload);
    } else if (opcode === Op.CONT) {
      if (this.fragments.length === 0) return 'continuation without a message';
      this.fragments.push(Buffer.from(payload));
      if (fin) this.deliverFragments();
    } else if (opcode === Op.TEXT || opcode === Op.BINARY) {
      if (this.fragments.length > 0) return 'new message inside a fragmented one';
      if (fin) {
        this.onMessage(opcode, payload);
      } else {
        this.fragmentOpcode = opcode;
        this.fragments.push(Buffer.from(payload));
      }
    } else {
      return 'unknown opcode';
    }
    return header + length;
  }

  private deliverFragments(): void {
    const message = Buffer.concat(this.fragments);
    this.fragments = [];
    this.onMessage(this.fragmentOpcode, message);
  }
}
