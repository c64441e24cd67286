// Remembers the first result of each publish id for windowMs, so a retried publish finds it
// instead of appending again. Bound: entries expire windowMs after they were first recorded and
// are pruned oldest first on every access (insertion order is expiry order for a monotonic clock).

interface DedupEntry<T> {
  value: T;
  recordedAt: number;
}

export class DedupWindow<T> {
  private readonly entries = new Map<string, DedupEntry<T>>();

  constructor(private readonly windowMs: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The first value recorded for `key` within the window, if any. */
  get(key: string, now: number): T | undefined {
    this.prune(now);
    return this.entries.get(key)?.value;
  }

  /** Records the first value for `key` (call only after get() found none). */
  record(key: string, value: T, now: number): void {
    this.entries.set(key, { value, recordedAt: now });
  }

  /** Drops entries older than the window. */
  prune(now: number): void {
    for (const [key, entry] of this.entries) {
      if (now - entry.recordedAt <= this.windowMs) break;
      this.entries.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
