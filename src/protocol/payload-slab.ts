// Buffers for payloads that span reads. Small ones are carved from a shared slab, so a 4 KiB
// message split between two reads costs no ArrayBuffer of its own (Buffer.allocUnsafe gives
// every request of 4 KiB or more a fresh one: an allocation, external memory, GC work).

/** Payloads up to this size come from the slab; bigger ones get their own buffer. */
const SLAB_PIECE_MAX_BYTES = 16 * 1024;
/** A slab serves at least 8 of the largest pieces; a message kept by the application keeps its slab alive, as a view of a read does. */
const SLAB_BYTES = 128 * 1024;

let slab: Buffer | null = null;
let slabUsed = 0;

/** An uninitialized buffer of `length` bytes starting on an 8-byte boundary (for 64-bit unmasking). */
export function allocatePayload(length: number): Buffer {
  if (length > SLAB_PIECE_MAX_BYTES) return Buffer.allocUnsafeSlow(length);
  const start = (slabUsed + 7) & ~7;
  if (slab === null || start + length > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = length;
    return slab.subarray(0, length);
  }
  slabUsed = start + length;
  return slab.subarray(start, slabUsed);
}
