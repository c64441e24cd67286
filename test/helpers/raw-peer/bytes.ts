// Bytes as the raw peer takes them (strings or arrays), written the way the RFCs print them, and
// seeded random cuts so that a failing split can be replayed.

export type Bytes = Uint8Array | string;

export function toBuffer(data: Bytes | undefined): Buffer {
  if (data === undefined) return Buffer.alloc(0);
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** `hex('ce ba e1')`: bytes written the way the RFCs and Autobahn print them. */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/[^0-9a-fA-F]/g, ''), 'hex');
}

/** A seeded PRNG (mulberry32) so that a failing random split can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Chunk sizes that cut `total` bytes at random points, each chunk 1..maxChunk bytes. */
export function randomChunks(total: number, maxChunk: number, random: () => number): number[] {
  const sizes: number[] = [];
  for (let left = total; left > 0; ) {
    const size = Math.min(left, 1 + Math.floor(random() * maxChunk));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}
