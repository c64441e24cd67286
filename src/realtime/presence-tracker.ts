// One session's presence: the channels it joined (subscriptions with `presence: true`), their
// join/leave events forwarded as frames, a refresh of its membership before the broker's TTL ends
// it, and leaving everything when the session closes.

import type { Broker, BrokerSubscription, PresenceEvent } from './broker.js';
import type { PresenceMember, ServerFrame } from './envelope.js';

export interface PresenceTrackerOptions {
  /** Membership lifetime in the broker; refreshed every third of it while the session lives. */
  ttlMs: number;
  /** Events held until the subscribe reply went out (owner: this tracker; overflow: onOverflow). */
  maxBufferedEvents: number;
}

interface Joined {
  live: boolean;
  buffer: PresenceEvent[];
  events: BrokerSubscription | null;
}

export class PresenceTracker {
  private readonly joined = new Map<string, Joined>();
  private refreshTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly broker: Broker,
    private readonly member: PresenceMember,
    private readonly send: (frame: ServerFrame) => void,
    private readonly onOverflow: () => void,
    private readonly options: PresenceTrackerOptions,
  ) {}

  /**
   * Joins `channel` and returns its members (this session included). Events are held until
   * activate(channel), so that the subscribe reply goes out before them.
   */
  async join(channel: string): Promise<PresenceMember[]> {
    const entry: Joined = { live: false, buffer: [], events: null };
    this.joined.set(channel, entry);
    try {
      // Events first, then join and list: a change between the two is seen (maybe twice), never missed.
      entry.events = await this.broker.subscribePresence(channel, (event) => this.onEvent(entry, event));
      if (this.joined.get(channel) !== entry) throw new Error('left while joining');
      await this.broker.join(channel, this.member, this.options.ttlMs);
      const members = await this.broker.members(channel);
      if (this.joined.get(channel) !== entry) throw new Error('left while joining');
      this.armRefresh();
      return members;
    } catch (error) {
      if (this.joined.get(channel) === entry) await this.leave(channel);
      else await this.release(channel, entry);
      throw error;
    }
  }

  activate(channel: string): void {
    const entry = this.joined.get(channel);
    if (entry === undefined || entry.live) return;
    entry.live = true;
    const buffered = entry.buffer;
    entry.buffer = [];
    for (const event of buffered) this.send(eventFrame(event));
  }

  /** Leaves `channel` if joined (no-op otherwise). */
  async leave(channel: string): Promise<void> {
    const entry = this.joined.get(channel);
    if (entry === undefined) return;
    this.joined.delete(channel);
    if (this.joined.size === 0) this.disarmRefresh();
    await this.release(channel, entry);
  }

  has(channel: string): boolean {
    return this.joined.has(channel);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.joined.keys()].map((channel) => this.leave(channel)));
  }

  private async release(channel: string, entry: Joined): Promise<void> {
    entry.live = false;
    entry.buffer = [];
    await Promise.all([
      entry.events?.unsubscribe().catch(() => {}),
      this.broker.leave(channel, this.member.clientId).catch(() => {}), // a broker down forgets us through the TTL
    ]);
  }

  private onEvent(entry: Joined, event: PresenceEvent): void {
    if (this.closed || this.joined.get(event.channel) !== entry) return;
    if (entry.live) return this.send(eventFrame(event));
    if (entry.buffer.length >= this.options.maxBufferedEvents) return this.onOverflow();
    entry.buffer.push(event);
  }

  private armRefresh(): void {
    if (this.refreshTimer !== null || this.closed) return;
    this.refreshTimer = setInterval(() => {
      for (const channel of this.joined.keys()) this.broker.join(channel, this.member, this.options.ttlMs).catch(() => {});
    }, Math.max(1, Math.floor(this.options.ttlMs / 3)));
    this.refreshTimer.unref();
  }

  private disarmRefresh(): void {
    if (this.refreshTimer !== null) clearInterval(this.refreshTimer);
    this.refreshTimer = null;
  }
}

function eventFrame(event: PresenceEvent): ServerFrame {
  return { t: event.type, channel: event.channel, member: event.member };
}
