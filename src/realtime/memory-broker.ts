// The single-process Broker (the default): channels with consecutive offsets inside a per-channel
// epoch, bounded history, a publish-id dedup window, live fan-out and presence, all in memory.
// Synchronous inside, async outside so that it is interchangeable with a remote broker.
// Bounds: history by historySize/historyTtlMs, dedup entries by dedupWindowMs, presence members by
// their TTL, and a channel's whole state once it has no subscribers and was idle for historyTtlMs
// (it then starts a new epoch on its next use). Time comes from the injected `now`; expiry runs on
// every call and on an unref'd timer, which never keeps the process alive.

import {
  BrokerError,
  DEFAULT_BROKER_OPTIONS,
  type Broker,
  type BrokerHistory,
  type BrokerOptions,
  type BrokerPublication,
  type BrokerPublishResult,
  type BrokerSubscription,
  type HistoryOptions,
  type PresenceEvent,
} from './broker.js';
import { ChannelLog } from './channel-log.js';
import { DedupWindow } from './dedup-window.js';
import type { PresenceMember } from './envelope.js';
import { ListenerSet } from './listener-set.js';
import { PresenceRegistry } from './presence-registry.js';

export interface MemoryBrokerOptions extends BrokerOptions {
  /** Receives what a subscriber or presence listener threw (default: console.error). The others still get the event. */
  onListenerError?: (error: unknown) => void;
  /** Period of the unref'd timer that expires presence members (with leave events) and frees idle state; 0: only on calls. */
  sweepIntervalMs?: number;
}

export const DEFAULT_SWEEP_INTERVAL_MS = 1000;

/** What the broker holds right now (for tests and monitoring). */
export interface MemoryBrokerStats {
  channels: number;
  retainedPublications: number;
  subscriptions: number;
  dedupEntries: number;
  presenceChannels: number;
  presenceMembers: number;
}

interface ChannelState {
  readonly name: string;
  readonly epoch: string;
  latestOffset: number;
  readonly log: ChannelLog;
  readonly subscribers: ListenerSet<BrokerPublication>;
  /** Creation, last publish, or last time it had subscribers: decides when idle state is dropped. */
  lastActiveAt: number;
}

export class MemoryBroker implements Broker {
  private readonly historySize: number;
  private readonly historyTtlMs: number;
  private readonly now: () => number;
  private readonly onListenerError: (error: unknown) => void;
  /** In order of lastActiveAt (a touched channel moves to the end), so expiry looks at the front only. */
  private readonly channels = new Map<string, ChannelState>();
  private readonly dedup: DedupWindow<BrokerPublishResult>;
  private readonly presence: PresenceRegistry;
  /** Epochs are this broker's random id plus a counter: a new broker (a restart) never reuses one. */
  private readonly epochPrefix = randomId();
  private epochCount = 0;
  private closed = false;
  private readonly sweepTimer: ReturnType<typeof setInterval> | undefined;

  constructor(options: MemoryBrokerOptions = {}) {
    this.historySize = checked('historySize', options.historySize ?? DEFAULT_BROKER_OPTIONS.historySize, 0, true);
    this.historyTtlMs = checked('historyTtlMs', options.historyTtlMs ?? DEFAULT_BROKER_OPTIONS.historyTtlMs, 1);
    const dedupWindowMs = checked('dedupWindowMs', options.dedupWindowMs ?? DEFAULT_BROKER_OPTIONS.dedupWindowMs, 0);
    const sweepIntervalMs = checked('sweepIntervalMs', options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS, 0);
    this.now = options.now ?? Date.now;
    this.onListenerError = options.onListenerError ?? ((error) => console.error('MemoryBroker: a listener threw', error));
    this.dedup = new DedupWindow(dedupWindowMs);
    this.presence = new PresenceRegistry(this.onListenerError);
    if (sweepIntervalMs > 0) {
      this.sweepTimer = setInterval(() => this.sweep(this.now()), sweepIntervalMs);
      (this.sweepTimer as { unref?: () => void }).unref?.();
    }
  }

  async publish(channel: string, data: unknown, options?: { pid?: string }): Promise<BrokerPublishResult> {
    const now = this.enter();
    const pid = options?.pid;
    // A pid is scoped to its channel: the first result names an offset of that channel.
    const key = pid === undefined ? undefined : `${channel.length}:${channel}:${pid}`;
    if (key !== undefined) {
      const first = this.dedup.get(key, now);
      if (first !== undefined) return { ...first, duplicate: true };
    }
    const state = this.channel(channel, now);
    state.log.prune(now);
    state.latestOffset += 1;
    const publication: BrokerPublication = { channel, epoch: state.epoch, offset: state.latestOffset, data, time: now };
    if (pid !== undefined) publication.pid = pid;
    Object.freeze(publication); // one object goes to every subscriber and into history
    state.log.append(publication);
    this.touch(state, now);
    state.subscribers.emit(publication);
    const result: BrokerPublishResult = { epoch: state.epoch, offset: state.latestOffset, duplicate: false };
    if (key !== undefined) this.dedup.record(key, result, now);
    return { ...result };
  }

  async subscribe(channel: string, onPublication: (publication: BrokerPublication) => void, _onGap?: () => void): Promise<BrokerSubscription> {
    // onGap is never called: nothing between this broker and its subscribers can lose a publication.
    const now = this.enter();
    const state = this.channel(channel, now);
    const remove = state.subscribers.add(onPublication);
    return {
      unsubscribe: async () => {
        remove();
        // A channel stays while subscribed; its idle time starts when the last subscriber leaves.
        if (state.subscribers.size === 0 && this.channels.get(channel) === state) this.touch(state, this.now());
      },
    };
  }

  async history(channel: string, options: HistoryOptions = {}): Promise<BrokerHistory> {
    const now = this.enter();
    const { since, limit } = options;
    if (since !== undefined && (typeof since.epoch !== 'string' || !Number.isSafeInteger(since.offset) || since.offset < 0)) {
      throw new TypeError('history: since must be { epoch: string, offset: integer >= 0 }');
    }
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) throw new TypeError('history: limit must be an integer >= 0');
    const state = this.channel(channel, now); // a channel's epoch is assigned on first use, also by a read
    state.log.prune(now);
    let publications: BrokerPublication[];
    let complete: boolean;
    if (since === undefined) {
      publications = state.log.after();
      complete = true;
    } else if (since.epoch !== state.epoch || since.offset > state.latestOffset) {
      // A future offset means the client saw offsets this broker never issued: history was lost.
      publications = state.log.after();
      complete = false;
    } else {
      publications = state.log.after(since.offset);
      complete = (state.log.oldestOffset ?? state.latestOffset + 1) <= since.offset + 1;
    }
    if (limit !== undefined && publications.length > limit) {
      publications = publications.slice(publications.length - limit);
      complete = false; // something asked for is not in the answer
    }
    return { epoch: state.epoch, latestOffset: state.latestOffset, publications, complete };
  }

  async join(channel: string, member: PresenceMember, ttlMs: number): Promise<void> {
    const now = this.enter();
    if (!(ttlMs > 0 && Number.isFinite(ttlMs))) throw new RangeError(`join: ttlMs must be a positive number, got ${ttlMs}`);
    this.presence.join(channel, member, ttlMs, now);
  }

  async leave(channel: string, clientId: string): Promise<void> {
    this.enter();
    this.presence.leave(channel, clientId);
  }

  async members(channel: string): Promise<PresenceMember[]> {
    this.enter();
    return this.presence.members(channel);
  }

  async subscribePresence(channel: string, onEvent: (event: PresenceEvent) => void): Promise<BrokerSubscription> {
    this.enter();
    const remove = this.presence.subscribe(channel, onEvent);
    return { unsubscribe: async () => remove() };
  }

  /** Drops every channel, subscription and member; later calls reject with BrokerError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    for (const state of this.channels.values()) state.subscribers.clear();
    this.channels.clear();
    this.dedup.clear();
    this.presence.clear();
  }

  stats(): MemoryBrokerStats {
    let retainedPublications = 0;
    let subscriptions = 0;
    for (const state of this.channels.values()) {
      retainedPublications += state.log.size;
      subscriptions += state.subscribers.size;
    }
    const presence = this.presence.stats;
    return {
      channels: this.channels.size,
      retainedPublications,
      subscriptions,
      dedupEntries: this.dedup.size,
      presenceChannels: presence.channels,
      presenceMembers: presence.members,
    };
  }

  /** The start of every call: rejects once closed, expires what is due, and reads the clock once. */
  private enter(): number {
    if (this.closed) throw new BrokerError('MemoryBroker is closed');
    const now = this.now();
    this.sweep(now);
    return now;
  }

  private sweep(now: number): void {
    if (this.closed) return;
    this.dedup.prune(now);
    this.presence.sweep(now);
    for (const state of this.channels.values()) {
      if (now - state.lastActiveAt <= this.historyTtlMs) break; // the rest were active later
      // A subscribed channel counts as active (its epoch must not change under its subscribers).
      if (state.subscribers.size > 0) this.touch(state, now);
      else this.channels.delete(state.name);
    }
  }

  private channel(name: string, now: number): ChannelState {
    let state = this.channels.get(name);
    if (state === undefined) {
      this.epochCount += 1;
      state = {
        name,
        epoch: `${this.epochPrefix}-${this.epochCount.toString(36)}`,
        latestOffset: 0,
        log: new ChannelLog(this.historySize, this.historyTtlMs),
        subscribers: new ListenerSet(this.onListenerError),
        lastActiveAt: now,
      };
      this.channels.set(name, state);
    }
    return state;
  }

  private touch(state: ChannelState, now: number): void {
    state.lastActiveAt = now;
    this.channels.delete(state.name);
    this.channels.set(state.name, state);
  }
}

function checked(name: string, value: number, min: number, integer = false): number {
  if (!(value >= min) || (integer ? !Number.isSafeInteger(value) : !Number.isFinite(value))) {
    throw new RangeError(`MemoryBroker: ${name} must be a${integer ? 'n integer' : ' number'} >= ${min}, got ${value}`);
  }
  return value;
}

function randomId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
