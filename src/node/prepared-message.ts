// A message framed once for many server-side connections (broadcasts, channel fan-out): every
// receiver gets the same frame bytes, with no encoding, framing or copying per receiver.

import { encodeFrame, frameHeaderLength, writeFrameInto } from '../protocol/frame-writer.js';
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

/**
 * Frames several messages (text for strings, binary for bytes) back to back into one buffer: a
 * receiver gets them as one chunk of bytes that were made once.
 */
export function prepareMessages(messages: readonly (string | Uint8Array)[]): PreparedMessage {
  const payloads: Uint8Array[] = new Array(messages.length);
  let size = 0;
  let payloadBytes = 0;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    const payload = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    payloads[i] = payload;
    payloadBytes += payload.length;
    size += frameHeaderLength(payload.length, false) + payload.length;
  }
  const frames = Buffer.allocUnsafe(size);
  let offset = 0;
  for (let i = 0; i < payloads.length; i++) {
    const opcode = typeof messages[i] === 'string' ? Opcode.TEXT : Opcode.BINARY;
    offset += writeFrameInto(frames, offset, { fin: true, rsv1: false, opcode, maskKey: null }, payloads[i]!);
  }
  return { chunks: [frames], payloadBytes };
}
