// Client-to-server masking (RFC 6455 §5.3): XOR with a 4-byte key, applied in place,
// 32 bits at a time over the aligned middle of the buffer.

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Below this, a plain byte loop beats creating a 32-bit view. */
const WORD_LOOP_MIN_BYTES = 32;

/**
 * XORs `data` in place with `maskKey`, as if `data` started `maskOffset` bytes into the
 * masked payload (so a payload that arrives in several pieces can be unmasked piece by piece).
 */
export function applyMask(data: Uint8Array, maskKey: Uint8Array, maskOffset = 0): void {
  const length = data.length;
  const k0 = maskKey[0]!, k1 = maskKey[1]!, k2 = maskKey[2]!, k3 = maskKey[3]!;
  const key = [k0, k1, k2, k3];
  if (length < WORD_LOOP_MIN_BYTES) {
    for (let i = 0; i < length; i++) data[i]! ^= key[(i + maskOffset) & 3]!;
    return;
  }
  let i = 0;
  const head = (4 - (data.byteOffset & 3)) & 3;
  for (; i < head; i++) data[i]! ^= key[(i + maskOffset) & 3]!;
  const words = (length - i) >>> 2;
  const r = (i + maskOffset) & 3;
  const b0 = key[r]!, b1 = key[(r + 1) & 3]!, b2 = key[(r + 2) & 3]!, b3 = key[(r + 3) & 3]!;
  const word = LITTLE_ENDIAN
    ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0
    : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
  const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
  for (let w = 0; w < words; w++) view[w]! ^= word;
  i += words * 4;
  for (; i < length; i++) data[i]! ^= key[(i + maskOffset) & 3]!;
}
