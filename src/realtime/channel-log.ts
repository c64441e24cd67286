// One channel's retained history: the newest publications, bounded by count (maxCount) and by age
// (maxAgeMs). Offsets in the log are consecutive, so a position is found by arithmetic.
// Overflow policy: the oldest publication is dropped.

import type { BrokerPublication } from './broker.js';

/** Compact the backing array once this many dropped slots sit at its front (and they are half of it). */
const COMPACT_AFTER_DROPPED = 64;

export class ChannelLog {
  /** items[head..] are retained, oldest first; items[..head) are dropped slots awaiting compaction. */
  private items: BrokerPublication[] = [];
  private head = 0;

  constructor(
    private readonly maxCount: number,
    private readonly maxAgeMs: number,
  ) {}

  get size(): number {
    return this.items.length - this.head;
  }

  /** The offset of the oldest retained publication, or undefined when nothing is retained. */
  get oldestOffset(): number | undefined {
    return this.items[this.head]?.offset;
  }

  /** Appends the next publication (its offset must follow the newest one), dropping the oldest past maxCount. */
  append(publication: BrokerPublication): void {
    if (this.maxCount === 0) return;
    this.items.push(publication);
    while (this.size > this.maxCount) this.dropOldest();
  }

  /** Drops publications older than maxAgeMs at `now`. */
  prune(now: number): void {
    for (let oldest = this.items[this.head]; oldest !== undefined && now - oldest.time > this.maxAgeMs; oldest = this.items[this.head]) {
      this.dropOldest();
    }
  }

  /** Retained publications with an offset greater than `offset` (all of them without one), oldest first. */
  after(offset?: number): BrokerPublication[] {
    const oldest = this.oldestOffset;
    if (oldest === undefined) return [];
    const skip = offset === undefined ? 0 : Math.max(0, offset + 1 - oldest);
    return this.items.slice(this.head + skip);
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  private dropOldest(): void {
    this.head += 1;
    if (this.head >= COMPACT_AFTER_DROPPED && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
