// One broker subscription per channel for the whole server, shared by every session subscribed to
// it: the broker sees one subscriber per node, and each publication becomes one frame, encoded
// once per codec, handed to every listener in turn. Publications that arrive in the same turn
// (a burst of publishes, or several in one read from a remote broker) are gathered until the
// microtasks queued with them have run and handed over as one batch, so a subscriber gets the
// burst in one write instead of one per publication.

import type { Broker, BrokerPublication, BrokerSubscription } from './broker.js';
import { EncodedFrame } from './encoded-frame.js';
import type { PublicationFrame } from './envelope.js';
import { PublicationBatch } from './publication-batch.js';

/** A session's subscription, as the fan-out sees it. */
export interface FanoutListener {
  onPublication(publication: EncodedFrame<PublicationFrame>): void;
  /** Two or more publications in broker order (the same as onPublication for each, in one go). */
  onPublications(batch: PublicationBatch): void;
  /** The broker may have lost live publications: catch up from history. */
  onGap(): void;
}

/** One channel's listeners on this node, and the publications gathered this turn. */
class ChannelEntry {
  readonly listeners = new Set<FanoutListener>();
  /** Received this turn, not yet handed over (owner: this entry; bound: one turn's arrivals). */
  private pending: EncodedFrame<PublicationFrame>[] = [];

  /** The broker subscription; set right after construction (the broker's callbacks need the entry first). */
  ready!: Promise<BrokerSubscription>;

  receive(publication: BrokerPublication): void {
    if (this.pending.length === 0) queueMicrotask(() => this.handOver());
    this.pending.push(new EncodedFrame(publicationFrame(publication)));
  }

  gap(): void {
    this.handOver(); // what arrived before the gap goes first
    for (const listener of this.listeners) listener.onGap();
  }

  /** Hands the gathered publications to every listener: one alone as itself, more as a batch. */
  private handOver(): void {
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    if (pending.length === 1) {
      const frame = pending[0]!;
      for (const listener of this.listeners) listener.onPublication(frame);
      return;
    }
    const batch = new PublicationBatch(pending);
    for (const listener of this.listeners) listener.onPublications(batch);
  }
}

export function publicationFrame(publication: BrokerPublication): PublicationFrame {
  return { t: 'pub', channel: publication.channel, epoch: publication.epoch, offset: publication.offset, data: publication.data };
}

export class ChannelFanout {
  private readonly channels = new Map<string, ChannelEntry>();

  constructor(private readonly broker: Broker) {}

  /** Adds `listener` to `channel`; resolves once the broker subscription is live (rejects when it cannot be made). */
  async attach(channel: string, listener: FanoutListener): Promise<void> {
    const entry = this.channels.get(channel) ?? this.open(channel);
    entry.listeners.add(listener);
    try {
      await entry.ready;
    } catch (error) {
      entry.listeners.delete(listener);
      throw error;
    }
  }

  /** Removes `listener`; the last one out ends the broker subscription. */
  detach(channel: string, listener: FanoutListener): void {
    const entry = this.channels.get(channel);
    if (entry === undefined || !entry.listeners.delete(listener) || entry.listeners.size > 0) return;
    this.channels.delete(channel);
    entry.ready.then((subscription) => subscription.unsubscribe()).catch(() => {});
  }

  /** Ends every broker subscription. */
  async close(): Promise<void> {
    const entries = [...this.channels.values()];
    this.channels.clear();
    await Promise.all(entries.map((entry) => entry.ready.then((subscription) => subscription.unsubscribe()).catch(() => {})));
  }

  private open(channel: string): ChannelEntry {
    const entry = new ChannelEntry();
    entry.ready = this.broker.subscribe(
      channel,
      (publication) => entry.receive(publication),
      () => entry.gap(),
    );
    this.channels.set(channel, entry);
    entry.ready.catch(() => {
      if (this.channels.get(channel) === entry) this.channels.delete(channel); // the next attach tries again
    });
    return entry;
  }
}
