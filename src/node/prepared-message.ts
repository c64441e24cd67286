// A message framed once for many server-side connections (broadcasts, channel fan-out): every
// receiver gets the same frame bytes, with no encoding, framing or copying per receiver.

import { encodeFrame } from '../protocol/frame-writer.js';
import { Opcode } from '../protocol/opcodes.js';

export interface PreparedMessage {
  /** The whole frame: header and payload (one or two buffers). */
  readonly chunks: readonly Buffer[];
  /** Application payload bytes (what bufferedAmount counts). */
  readonly payloadBytes: number;
}

/** Frames `data` as one unmasked, uncompressed message (servers only: client frames are masked). */
export function prepareMessage(data: string | Uint8Array, isBinary: boolean): PreparedMessage {
  const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const chunks: Buffer[] = [];
  encodeFrame({ fin: true, rsv1: false, opcode: isBinary ? Opcode.BINARY : Opcode.TEXT, maskKey: null }, payload, (chunk) => chunks.push(chunk));
  return { chunks, payloadBytes: payload.length };
}
