// The chaos test's only source of random choices: a seeded PRNG (mulberry32), so that a failing
// run's seed (printed, replayed with CHAOS_SEED) makes the same choices again.

export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** The seed from CHAOS_SEED when set, a fresh one otherwise. */
  static fromEnvironment(value: string | undefined): SeededRandom {
    if (value !== undefined && value !== '') {
      const seed = Number(value);
      if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`CHAOS_SEED must be a non-negative integer, got ${value}`);
      return new SeededRandom(seed);
    }
    return new SeededRandom(Math.floor(Math.random() * 2 ** 32));
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** `count` distinct items, in random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = [...items];
    for (let i = pool.length - 1; i > 0; i -= 1) {
      const j = Math.floor(this.next() * (i + 1));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, count);
  }

  /** An independent generator derived from this one (one per client, so their choices do not interleave). */
  fork(): SeededRandom {
    return new SeededRandom(Math.floor(this.next() * 2 ** 32));
  }
}
