// A Broker that gives each channel to one of several real brokers, so that one server can have
// channels with different history sizes (MemoryBroker's historySize is per broker).

import type { Broker, BrokerHistory, BrokerPublishResult, BrokerSubscription, HistoryOptions, PresenceEvent } from '../../../src/realtime/broker.js';
import type { PresenceMember } from '../../../src/realtime/envelope.js';

export class RoutedBroker implements Broker {
  constructor(
    private readonly route: (channel: string) => Broker,
    private readonly all: readonly Broker[],
  ) {}

  publish(channel: string, data: unknown, options?: { pid?: string }): Promise<BrokerPublishResult> {
    return this.route(channel).publish(channel, data, options);
  }

  subscribe(channel: string, onPublication: Parameters<Broker['subscribe']>[1], onGap?: () => void): Promise<BrokerSubscription> {
    return this.route(channel).subscribe(channel, onPublication, onGap);
  }

  history(channel: string, options?: HistoryOptions): Promise<BrokerHistory> {
    return this.route(channel).history(channel, options);
  }

  join(channel: string, member: PresenceMember, ttlMs: number): Promise<void> {
    return this.route(channel).join(channel, member, ttlMs);
  }

  leave(channel: string, clientId: string): Promise<void> {
    return this.route(channel).leave(channel, clientId);
  }

  members(channel: string): Promise<PresenceMember[]> {
    return this.route(channel).members(channel);
  }

  subscribePresence(channel: string, onEvent: (event: PresenceEvent) => void): Promise<BrokerSubscription> {
    return this.route(channel).subscribePresence(channel, onEvent);
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((broker) => broker.close()));
  }
}
