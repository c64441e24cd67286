// The payload of a close frame (RFC 6455 §5.5.1): a 2-byte code, then a UTF-8 reason.

import { MAX_CLOSE_REASON_BYTES, isWireValid } from './close-codes.js';
import { InvalidAccessError, SyntaxError } from './errors.js';

const EMPTY = Buffer.alloc(0);

/**
 * Encodes a close payload. An over-long reason throws SyntaxError, unless `truncate` is set
 * (our own diagnostic reasons), where it is cut at a character boundary.
 */
export function encodeClosePayload(code: number | undefined, reason: string, truncate = false): Buffer {
  if (code === undefined) {
    if (reason !== '') throw new SyntaxError('A close reason needs a close code');
    return EMPTY;
  }
  if (!isWireValid(code)) throw new InvalidAccessError(`Close code ${code} may not be sent`);
  let reasonBytes: Buffer = Buffer.from(reason, 'utf8');
  if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
    if (!truncate) throw new SyntaxError(`The close reason is ${reasonBytes.length} bytes; at most ${MAX_CLOSE_REASON_BYTES} are allowed`);
    reasonBytes = truncateUtf8(reasonBytes, MAX_CLOSE_REASON_BYTES);
  }
  const payload = Buffer.allocUnsafe(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  return payload;
}

/** Cuts UTF-8 bytes to at most `max` without splitting a character. */
export function truncateUtf8(bytes: Buffer, max: number): Buffer {
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
