// Client-to-server masking (RFC 6455 §5.3): XOR with a 4-byte key, applied in place,
// 32 bits at a time over the aligned middle of the range.

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Below this, a plain byte loop beats creating a 32-bit view (the view costs ~100 ns). */
const WORD_LOOP_MIN_BYTES = 128;

/**
 * XORs `data[start, end)` in place with `maskKey`, as if that range started `maskOffset` bytes
 * into the masked payload (so a payload arriving in pieces can be unmasked piece by piece).
 */
export function applyMask(data: Uint8Array, maskKey: Uint8Array, maskOffset = 0, start = 0, end = data.length): void {
  const length = end - start;
  const key0 = maskKey[maskOffset & 3]!;
  const key1 = maskKey[(maskOffset + 1) & 3]!;
  const key2 = maskKey[(maskOffset + 2) & 3]!;
  const key3 = maskKey[(maskOffset + 3) & 3]!;
  let i = 0;
  if (length >= WORD_LOOP_MIN_BYTES) {
    // Bytes up to a 4-byte boundary, then whole words with the key rotated to match.
    const head = (4 - ((data.byteOffset + start) & 3)) & 3;
    for (; i < head; i++) data[start + i]! ^= maskKey[(i + maskOffset) & 3]!;
    const r = (i + maskOffset) & 3;
    const b0 = maskKey[r]!, b1 = maskKey[(r + 1) & 3]!, b2 = maskKey[(r + 2) & 3]!, b3 = maskKey[(r + 3) & 3]!;
    const word = LITTLE_ENDIAN ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0 : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
    const words = (length - i) >>> 2;
    const view = new Uint32Array(data.buffer, data.byteOffset + start + i, words);
    for (let w = 0; w < words; w++) view[w]! ^= word;
    i += words * 4;
  }
  // Small ranges: four bytes per step from the start (after the word loop fewer than 4 remain).
  for (; i + 4 <= length; i += 4) {
    data[start + i]! ^= key0;
    data[start + i + 1]! ^= key1;
    data[start + i + 2]! ^= key2;
    data[start + i + 3]! ^= key3;
  }
  for (; i < length; i++) data[start + i]! ^= maskKey[(i + maskOffset) & 3]!;
}
