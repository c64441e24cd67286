// One broker subscription per channel for the whole server, shared by every session subscribed to
// it: the broker sees one subscriber per node, and each publication becomes one frame, encoded
// once per codec, handed to every listener in turn.

import type { Broker, BrokerPublication, BrokerSubscription } from './broker.js';
import { EncodedFrame } from './encoded-frame.js';
import type { PublicationFrame } from './envelope.js';

/** A session's subscription, as the fan-out sees it. */
export interface FanoutListener {
  onPublication(publication: EncodedFrame<PublicationFrame>): void;
  /** The broker may have lost live publications: catch up from history. */
  onGap(): void;
}

interface ChannelEntry {
  readonly listeners: Set<FanoutListener>;
  readonly ready: Promise<BrokerSubscription>;
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
    const listeners = new Set<FanoutListener>();
    const ready = this.broker.subscribe(
      channel,
      (publication) => {
        const frame = new EncodedFrame(publicationFrame(publication));
        for (const listener of listeners) listener.onPublication(frame);
      },
      () => {
        for (const listener of listeners) listener.onGap();
      },
    );
    const entry: ChannelEntry = { listeners, ready };
    this.channels.set(channel, entry);
    ready.catch(() => {
      if (this.channels.get(channel) === entry) this.channels.delete(channel); // the next attach tries again
    });
    return entry;
  }
}
