// The Broker that spans nodes: channels live in Redis (docs/deploy.md, "Redis"). A publish is one
// Lua script (dedup, offset, stream append, trim, fan-out); history is read from the stream; live
// delivery goes through one pub/sub connection per node with gaps filled from the stream; presence
// is a hash and a sorted set with expiry. Redis's clock (TIME) is the only clock: `now` is ignored.
// Redis unreachable: calls reject at once with BrokerError (a publish cut off in flight first
// looks up its publish id once Redis is back); subscriptions come back by themselves and their
// onGap is called, so servers recover from history.

import { randomBytes } from 'node:crypto';
import {
  BrokerError,
  DEFAULT_BROKER_OPTIONS,
  type Broker,
  type BrokerHistory,
  type BrokerPublication,
  type BrokerPublishResult,
  type BrokerSubscription,
  type HistoryOptions,
  type PresenceEvent,
} from '../../realtime/broker.js';
import type { PresenceMember } from '../../realtime/envelope.js';
import { ChannelFeed } from './channel-feed.js';
import { FeedRegistry } from './feed-registry.js';
import { HISTORY_SCRIPT, PUBLISH_SCRIPT, type LuaScript } from './lua-scripts.js';
import { decodePosition, decodePublication, encodeValue } from './redis-codec.js';
import { checked, connections, REDIS_BROKER_DEFAULTS, type RedisBrokerOptions } from './redis-broker-options.js';
import { RedisConnection } from './redis-connection.js';
import { historyArguments, historyFromReply } from './redis-history.js';
import { channelKeys, type ChannelKeys } from './redis-keys.js';
import { RedisPresence } from './redis-presence.js';
import { RedisSubscriber } from './redis-subscriber.js';
import { runScript, type ScriptArgument } from './run-script.js';

/** What this node holds (for tests and monitoring). */
export interface RedisBrokerStats {
  /** Channels with local subscribers. */
  channels: number;
  /** Channels with local presence listeners. */
  presenceChannels: number;
  /** Pub/sub topics subscribed (or being subscribed). */
  topics: number;
}

export class RedisBroker implements Broker {
  readonly keyPrefix: string;
  private readonly historySize: number;
  private readonly historyTtlMs: number;
  private readonly dedupWindowMs: number;
  private readonly commands: RedisConnection;
  private readonly pubsub: RedisConnection;
  private readonly subscriber: RedisSubscriber;
  private readonly feeds: FeedRegistry<ChannelFeed>;
  private readonly presence: RedisPresence;
  /** New epochs are this broker's random id plus a counter: unique across nodes and restarts. */
  private readonly epochPrefix = randomBytes(8).toString('hex');
  private epochCount = 0;
  private closed = false;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private readonly detachNudges: () => void;

  constructor(options: RedisBrokerOptions = {}) {
    this.keyPrefix = options.keyPrefix ?? REDIS_BROKER_DEFAULTS.keyPrefix;
    this.historySize = checked('historySize', options.historySize ?? DEFAULT_BROKER_OPTIONS.historySize, 0, true);
    this.historyTtlMs = Math.ceil(checked('historyTtlMs', options.historyTtlMs ?? DEFAULT_BROKER_OPTIONS.historyTtlMs, 1));
    this.dedupWindowMs = Math.ceil(checked('dedupWindowMs', options.dedupWindowMs ?? DEFAULT_BROKER_OPTIONS.dedupWindowMs, 0));
    const sweepIntervalMs = checked('sweepIntervalMs', options.sweepIntervalMs ?? REDIS_BROKER_DEFAULTS.sweepIntervalMs, 0);
    const readyTimeoutMs = checked('readyTimeoutMs', options.readyTimeoutMs ?? REDIS_BROKER_DEFAULTS.readyTimeoutMs, 0);
    const maxPending = checked('maxPendingPublications', options.maxPendingPublications ?? REDIS_BROKER_DEFAULTS.maxPendingPublications, 1, true);
    const onListenerError = options.onListenerError ?? ((error) => console.error('RedisBroker: a listener threw', error));
    const onConnectionError = options.onConnectionError ?? ((error) => console.error('RedisBroker: Redis connection error', error));

    const [client, subscriberClient] = connections(options);
    this.commands = new RedisConnection(client, 'command', readyTimeoutMs, options.client === undefined, onConnectionError);
    this.pubsub = new RedisConnection(subscriberClient, 'pub/sub', readyTimeoutMs, options.subscriber === undefined, onConnectionError);
    // Both connections go to one Redis: when one is back, the other tries at once too, and
    // subscriptions hear of a gap only once history can be read to fill it.
    const nudgePubsub = () => void this.pubsub.reconnectNow(0);
    const nudgeCommands = () => void this.commands.reconnectNow(0);
    client.on('ready', nudgePubsub);
    subscriberClient.on('ready', nudgeCommands);
    this.detachNudges = () => {
      client.off('ready', nudgePubsub);
      subscriberClient.off('ready', nudgeCommands);
    };
    this.subscriber = new RedisSubscriber(subscriberClient, onListenerError, () => this.commands.reconnectNow(REDIS_BROKER_DEFAULTS.commandTimeoutMs));
    this.feeds = new FeedRegistry(this.subscriber, (channel) => this.keys(channel).publicationTopic, (channel) => new ChannelFeed(channel, {
      fill: (since) => this.history(channel, { since }),
      position: async () => {
        const { epoch, latestOffset } = await this.history(channel, { limit: 0 });
        return { epoch, offset: latestOffset };
      },
      maxPending,
      decode: (payload) => decodePublication(channel, payload),
      onListenerError,
    }));
    this.presence = new RedisPresence((channel) => this.keys(channel), (script, keys, args) => this.run(script, keys, args), this.subscriber, onListenerError);
    if (sweepIntervalMs > 0) this.every(sweepIntervalMs, () => this.presence.sweep());
    // A channel with subscribers keeps its epoch while idle (its keys would expire after historyTtlMs).
    this.every(Math.max(10, this.historyTtlMs / 3), () => this.keepSubscribedChannels());
  }

  /** Resolves once both connections are up (rejects with BrokerError after readyTimeoutMs). */
  async ready(): Promise<void> {
    this.checkOpen();
    await Promise.all([this.commands.ready(), this.pubsub.ready()]);
  }

  async publish(channel: string, data: unknown, options?: { pid?: string }): Promise<BrokerPublishResult> {
    const pid = options?.pid ?? '';
    if (typeof pid !== 'string') throw new TypeError('publish: pid must be a string');
    const keys = this.keys(channel);
    const args = [this.newEpoch(), encodeValue(data), pid, this.historySize, this.historyTtlMs, this.dedupWindowMs, keys.publicationTopic];
    this.checkOpen();
    await this.commands.ready();
    let reply: [number, Buffer];
    try {
      reply = (await runScript(this.commands.client, PUBLISH_SCRIPT, [keys.meta, keys.stream, keys.dedup(pid)], args)) as [number, Buffer];
    } catch (error) {
      // The connection broke (or timed out) with the script sent: Redis may have run it. With a
      // pid, its dedup key tells, once the connection is back: resolve instead of a false "not accepted".
      const applied = pid !== '' && this.dedupWindowMs > 0 && inDoubt(error) ? await this.lookUpPublish(keys.dedup(pid)) : undefined;
      if (applied !== undefined) return { ...applied, duplicate: false };
      throw this.failure('publish', error);
    }
    return { ...decodePosition(reply[1]), duplicate: reply[0] === 1 };
  }

  async subscribe(channel: string, onPublication: (publication: BrokerPublication) => void, onGap?: () => void): Promise<BrokerSubscription> {
    this.checkOpen();
    await this.pubsub.ready();
    try {
      const detach = await this.feeds.attach(channel, (feed) => feed.add(onPublication, onGap));
      return { unsubscribe: detach };
    } catch (error) {
      throw this.failure('subscribe', error);
    }
  }

  async history(channel: string, options: HistoryOptions = {}): Promise<BrokerHistory> {
    const args = historyArguments(options);
    const keys = this.keys(channel);
    const reply = await this.run(HISTORY_SCRIPT, [keys.meta, keys.stream], [this.newEpoch(), this.historySize, this.historyTtlMs, ...args]);
    return historyFromReply(channel, options, reply);
  }

  async join(channel: string, member: PresenceMember, ttlMs: number): Promise<void> {
    this.checkOpen();
    await this.presence.join(channel, member, ttlMs);
  }

  async leave(channel: string, clientId: string): Promise<void> {
    this.checkOpen();
    await this.presence.leave(channel, clientId);
  }

  async members(channel: string): Promise<PresenceMember[]> {
    this.checkOpen();
    return await this.presence.members(channel);
  }

  async subscribePresence(channel: string, onEvent: (event: PresenceEvent) => void): Promise<BrokerSubscription> {
    this.checkOpen();
    await this.pubsub.ready();
    try {
      return await this.presence.subscribe(channel, onEvent);
    } catch (error) {
      throw this.failure('subscribePresence', error);
    }
  }

  /** Ends both connections (those the broker opened) and every local subscription; later calls reject with BrokerError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.detachNudges();
    this.feeds.close();
    this.presence.close();
    this.subscriber.close();
    await Promise.all([this.commands.close(), this.pubsub.close()]);
  }

  stats(): RedisBrokerStats {
    return { channels: this.feeds.size, presenceChannels: this.presence.listenedChannels, topics: this.subscriber.topicCount };
  }

  private keys(channel: string): ChannelKeys {
    return channelKeys(this.keyPrefix, channel);
  }

  private newEpoch(): string {
    this.epochCount += 1;
    return `${this.epochPrefix}-${this.epochCount.toString(36)}`;
  }

  /** Runs a script on the command connection: rejects with BrokerError when closed, down, or failing. */
  private async run(script: LuaScript, keys: readonly string[], args: readonly ScriptArgument[]): Promise<unknown> {
    this.checkOpen();
    await this.commands.ready();
    try {
      return await runScript(this.commands.client, script, keys, args);
    } catch (error) {
      throw this.failure(script.name, error);
    }
  }

  /** The first result of a publish id, read after waiting (bounded) for the connection; undefined when unknown or absent. */
  private async lookUpPublish(dedupKey: string): Promise<{ epoch: string; offset: number } | undefined> {
    await this.commands.reconnectNow(REDIS_BROKER_DEFAULTS.commandTimeoutMs);
    if (this.closed || !this.commands.isReady) return undefined;
    try {
      const first = await this.commands.client.getBuffer(dedupKey);
      return first === null ? undefined : decodePosition(first);
    } catch {
      return undefined;
    }
  }

  private failure(what: string, error: unknown): BrokerError {
    if (error instanceof BrokerError) return error;
    if (this.closed) return new BrokerError('RedisBroker is closed', { cause: error });
    return new BrokerError(`RedisBroker: ${what} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }

  private checkOpen(): void {
    if (this.closed) throw new BrokerError('RedisBroker is closed');
  }

  private every(intervalMs: number, task: () => Promise<unknown> | void): void {
    let running = false;
    const timer = setInterval(() => {
      if (running || this.closed || !this.commands.isReady) return;
      running = true;
      Promise.resolve()
        .then(task)
        .catch(() => undefined) // Redis down: the next round tries again
        .finally(() => (running = false));
    }, intervalMs);
    (timer as { unref?: () => void }).unref?.();
    this.timers.push(timer);
  }

  private async keepSubscribedChannels(): Promise<void> {
    if (this.feeds.size === 0) return;
    const pipeline = this.commands.client.pipeline();
    for (const [channel] of this.feeds.channels()) pipeline.pexpire(this.keys(channel).meta, this.historyTtlMs);
    await pipeline.exec();
  }
}

/**
 * Whether a failed command may have run: not when Redis replied with an error (the script ran
 * nothing, or failed), nor when ioredis never sent it (no connection and no offline queue).
 */
function inDoubt(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  return error.name !== 'ReplyError' && !error.message.includes('enableOfflineQueue');
}
