// A minimal frame codec (RFC 6455 §5.2), written apart from src/ on purpose: encodes any frame a
// test asks for (reserved bits, non-minimal lengths included) and decodes what the endpoint sends.

import { randomBytes } from 'node:crypto';
import { toBuffer, type Bytes } from './bytes.js';

export const Opcode = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

/** Which end the raw peer plays; it decides masking (RFC 6455 §5.3). */
export type PeerRole = 'client' | 'server';

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

/** A frame's full size from its header bytes, or undefined while the header is incomplete. */
export function frameSize(head: Buffer): number | undefined {
  const short = head[1]! & 0x7f;
  const maskBytes = (head[1]! & 0x80) !== 0 ? 4 : 0;
  if (short < 126) return 2 + maskBytes + short;
  if (short === 126) return head.length < 4 ? undefined : 4 + maskBytes + head.readUInt16BE(2);
  if (head.length < 10) return undefined;
  const big = head.readBigUInt64BE(2);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`peer announced a ${big} byte payload`);
  return 10 + maskBytes + Number(big);
}

/** Close codes that may appear on the wire (RFC 6455 §7.4), written here rather than imported. */
export function isValidWireCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}
