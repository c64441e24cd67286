// Presence in Redis, shared by every node: per channel a hash (clientId → member) and a sorted set
// (clientId → expiry time), so expired members are found by score. Every presence call first
// expires what is due, with leave events over pub/sub; sweep() does the same for the channels this
// node listens to, so the members of a node that died without leaving disappear with leave events.
// Events lost in a pub/sub outage are made up from the members once it is over (presence-feed.ts).

import type { BrokerSubscription, PresenceEvent } from '../../realtime/broker.js';
import type { PresenceMember } from '../../realtime/envelope.js';
import { FeedRegistry } from './feed-registry.js';
import { EXPIRE_SCRIPT, JOIN_SCRIPT, LEAVE_SCRIPT, MEMBERS_SCRIPT, type LuaScript } from './lua-scripts.js';
import { PresenceFeed } from './presence-feed.js';
import { decodeMember, encodeMember } from './redis-codec.js';
import type { ChannelKeys } from './redis-keys.js';
import type { RedisSubscriber } from './redis-subscriber.js';
import type { ScriptArgument } from './run-script.js';

/** Runs a script through the broker (closed check, readiness, BrokerError on failure). */
export type ScriptCall = (script: LuaScript, keys: readonly string[], args: readonly ScriptArgument[]) => Promise<unknown>;

export class RedisPresence {
  private readonly feeds: FeedRegistry<PresenceFeed>;

  constructor(
    private readonly keysOf: (channel: string) => ChannelKeys,
    private readonly call: ScriptCall,
    subscriber: RedisSubscriber,
    onListenerError: (error: unknown) => void,
  ) {
    this.feeds = new FeedRegistry(
      subscriber,
      (channel) => keysOf(channel).presenceTopic,
      (channel) => new PresenceFeed(channel, () => this.members(channel), onListenerError),
    );
  }

  async join(channel: string, member: PresenceMember, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0 && Number.isFinite(ttlMs))) throw new RangeError(`join: ttlMs must be a positive number, got ${ttlMs}`);
    const keys = this.keysOf(channel);
    await this.call(JOIN_SCRIPT, [keys.presenceMembers, keys.presenceExpiry], [member.clientId, encodeMember(member), Math.ceil(ttlMs), keys.presenceTopic]);
  }

  async leave(channel: string, clientId: string): Promise<void> {
    const keys = this.keysOf(channel);
    await this.call(LEAVE_SCRIPT, [keys.presenceMembers, keys.presenceExpiry], [clientId, keys.presenceTopic]);
  }

  async members(channel: string): Promise<PresenceMember[]> {
    const keys = this.keysOf(channel);
    const reply = await this.call(MEMBERS_SCRIPT, [keys.presenceMembers, keys.presenceExpiry], [keys.presenceTopic]);
    return (reply as Buffer[]).map((bytes) => decodeMember(bytes));
  }

  async subscribe(channel: string, onEvent: (event: PresenceEvent) => void): Promise<BrokerSubscription> {
    const detach = await this.feeds.attach(channel, (feed) => feed.listeners.add(onEvent));
    return { unsubscribe: detach };
  }

  /** Expires due members of every channel this node listens to (their leave events reach every node). */
  async sweep(): Promise<void> {
    const sweeps = [...this.feeds.channels()].map(([channel]) => {
      const keys = this.keysOf(channel);
      return this.call(EXPIRE_SCRIPT, [keys.presenceMembers, keys.presenceExpiry], [keys.presenceTopic]);
    });
    await Promise.all(sweeps);
  }

  get listenedChannels(): number {
    return this.feeds.size;
  }

  close(): void {
    this.feeds.close();
  }
}
