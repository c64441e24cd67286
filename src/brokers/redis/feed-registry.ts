// The feeds of one kind (publications or presence events) on this node: one per channel while it
// has local listeners, each subscribed to its channel's pub/sub topic. Bound: a feed goes, and its
// topic is unsubscribed, when its last listener leaves.

import type { RedisSubscriber, TopicHandler } from './redis-subscriber.js';

export interface Feed extends TopicHandler {
  readonly size: number;
  /** Runs once the topic is subscribed, before the first listener's attach resolves. */
  start?(): Promise<void>;
  close(): void;
}

interface FeedEntry<F> {
  readonly feed: F;
  readonly topic: string;
  readonly ready: Promise<void>;
}

export class FeedRegistry<F extends Feed> {
  private readonly entries = new Map<string, FeedEntry<F>>();

  constructor(
    private readonly subscriber: RedisSubscriber,
    private readonly topicOf: (channel: string) => string,
    private readonly create: (channel: string) => F,
  ) {}

  /**
   * Adds a listener through `addListener` to the channel's feed, once its topic is subscribed.
   * Resolves with the function that removes it again (idempotent, never rejects).
   */
  async attach(channel: string, addListener: (feed: F) => () => void): Promise<() => Promise<void>> {
    const entry = this.entries.get(channel) ?? this.open(channel);
    const remove = addListener(entry.feed);
    try {
      await entry.ready;
    } catch (error) {
      remove();
      throw error;
    }
    let attached = true;
    return async () => {
      if (!attached) return;
      attached = false;
      remove();
      if (entry.feed.size > 0 || this.entries.get(channel) !== entry) return;
      this.entries.delete(channel);
      entry.feed.close();
      await this.subscriber.remove(entry.topic, entry.feed);
    };
  }

  /** Channels with a feed (and their feeds). */
  channels(): IterableIterator<[string, F]> {
    return [...this.entries].map(([channel, entry]): [string, F] => [channel, entry.feed]).values();
  }

  get size(): number {
    return this.entries.size;
  }

  close(): void {
    for (const entry of this.entries.values()) entry.feed.close();
    this.entries.clear();
  }

  private open(channel: string): FeedEntry<F> {
    const feed = this.create(channel);
    const topic = this.topicOf(channel);
    const entry: FeedEntry<F> = { feed, topic, ready: this.subscribe(topic, feed) };
    this.entries.set(channel, entry);
    entry.ready.catch(() => {
      if (this.entries.get(channel) !== entry) return;
      this.entries.delete(channel); // the next attach tries again
      feed.close();
    });
    return entry;
  }

  private async subscribe(topic: string, feed: F): Promise<void> {
    await this.subscriber.add(topic, feed);
    try {
      await feed.start?.();
    } catch (error) {
      await this.subscriber.remove(topic, feed);
      throw error;
    }
  }
}
