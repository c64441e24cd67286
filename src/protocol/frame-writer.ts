// Frame encoding (RFC 6455 §5.2). Small payloads are copied behind their header so a frame is
// one buffer; big unmasked payloads go out as header + the caller's buffer, never copied.
// Masked frames are always copied: the caller's data must not change under it.

import { applyMask } from './masking.js';

/** Up to this size a payload is copied next to its header (one buffer beats two in a writev). */
const COPY_BELOW_BYTES = 16 * 1024;

export interface FrameHeaderFields {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  /** Client frames carry a 4-byte key (RFC 6455 §5.3); server frames none. */
  maskKey: Uint8Array | null;
}

export function frameHeaderLength(payloadLength: number, masked: boolean): number {
  const lengthBytes = payloadLength < 126 ? 0 : payloadLength <= 0xffff ? 2 : 8;
  return 2 + lengthBytes + (masked ? 4 : 0);
}

/** Writes the header into `target` at `offset`; returns its length. */
export function writeFrameHeader(target: Buffer, offset: number, fields: FrameHeaderFields, payloadLength: number): number {
  target[offset] = (fields.fin ? 0x80 : 0) | (fields.rsv1 ? 0x40 : 0) | fields.opcode;
  const maskBit = fields.maskKey === null ? 0 : 0x80;
  let position = offset + 2;
  if (payloadLength < 126) {
    target[offset + 1] = maskBit | payloadLength;
  } else if (payloadLength <= 0xffff) {
    target[offset + 1] = maskBit | 126;
    target.writeUInt16BE(payloadLength, position);
    position += 2;
  } else {
    target[offset + 1] = maskBit | 127;
    target.writeUInt32BE(Math.floor(payloadLength / 0x100000000), position);
    target.writeUInt32BE(payloadLength >>> 0, position + 4);
    position += 8;
  }
  if (fields.maskKey !== null) {
    target.set(fields.maskKey.subarray(0, 4), position);
    position += 4;
  }
  return position - offset;
}

/** Encodes one frame and hands its bytes to `emit`, in one or two pieces. */
export function encodeFrame(fields: FrameHeaderFields, payload: Uint8Array, emit: (chunk: Buffer) => void): void {
  const headerLength = frameHeaderLength(payload.length, fields.maskKey !== null);
  if (fields.maskKey === null && payload.length >= COPY_BELOW_BYTES) {
    const header = Buffer.allocUnsafe(headerLength);
    writeFrameHeader(header, 0, fields, payload.length);
    emit(header);
    emit(Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length));
    return;
  }
  const frame = Buffer.allocUnsafe(headerLength + payload.length);
  writeFrameInto(frame, 0, fields, payload);
  emit(frame);
}

/** Writes a whole frame (header, payload, masking) into `target` at `offset`; returns its length. */
export function writeFrameInto(target: Buffer, offset: number, fields: FrameHeaderFields, payload: Uint8Array): number {
  const headerLength = writeFrameHeader(target, offset, fields, payload.length);
  const payloadStart = offset + headerLength;
  target.set(payload, payloadStart);
  if (fields.maskKey !== null) applyMask(target, fields.maskKey, 0, payloadStart, payloadStart + payload.length);
  return headerLength + payload.length;
}
