// Gathers the fragments of one message into a single buffer that grows geometrically, so a
// message in many small fragments costs no per-fragment memory and no quadratic copying.

const EMPTY = Buffer.alloc(0);
const INITIAL_BYTES = 1024;

export class MessageBuffer {
  private buffer: Buffer = EMPTY;
  private filled = 0;

  constructor(private readonly maxBytes: number) {}

  get length(): number {
    return this.filled;
  }

  append(data: Uint8Array): void {
    const needed = this.filled + data.length;
    if (needed > this.buffer.length) {
      const size = Math.min(Math.max(needed, this.buffer.length * 2, INITIAL_BYTES), Math.max(this.maxBytes, needed));
      const grown = Buffer.allocUnsafe(size);
      this.buffer.copy(grown, 0, 0, this.filled);
      this.buffer = grown;
    }
    this.buffer.set(data, this.filled);
    this.filled = needed;
  }

  /** Hands the gathered bytes over and starts empty again. */
  take(): Buffer {
    const result = this.buffer.subarray(0, this.filled);
    this.buffer = EMPTY;
    this.filled = 0;
    return result;
  }
}
