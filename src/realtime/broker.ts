// The Broker: where channels live. It orders publications (per-channel offsets inside an epoch),
// keeps bounded history, drops duplicate publishes, fans out live publications and tracks
// presence. MemoryBroker is the single-process default; RedisBroker spans nodes. Both pass the
// contract suite in test/realtime/broker-contract.ts. Every method is async: a broker may be remote.

import type { PresenceMember, StreamPosition } from './envelope.js';
import { RealtimeError, RealtimeErrorCode } from './realtime-errors.js';

/** The broker cannot serve the call (closed, or its backend is down): a publish was NOT accepted. */
export class BrokerError extends RealtimeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(RealtimeErrorCode.BROKER_UNAVAILABLE, message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }

  override get name(): string {
    return 'BrokerError';
  }
}

export interface BrokerPublication {
  channel: string;
  epoch: string;
  offset: number;
  data: unknown;
  /** The publish id it was published with, if any. */
  pid?: string;
  /** Broker time of the append, in ms since the epoch of the Unix clock. */
  time: number;
}

export interface BrokerPublishResult {
  epoch: string;
  offset: number;
  /** True when `pid` was seen within the dedup window: nothing was appended, this is the first result. */
  duplicate: boolean;
}

export interface BrokerHistory {
  /** Assigned when the channel is first used (a read included) and kept while its history exists. */
  epoch: string;
  /** The channel's latest offset (0 when nothing was ever published in this epoch). */
  latestOffset: number;
  /** Publications after `since.offset` (or the whole retained history without `since`), oldest first. */
  publications: BrokerPublication[];
  /**
   * True when `publications` is everything after `since` (same epoch, nothing missing). False when
   * the epoch changed, since.offset is beyond latestOffset (offsets this epoch never issued: treated
   * as an epoch change), history no longer reaches back to since.offset + 1, or `limit` cut something.
   * Without `since`: true unless `limit` cut something.
   */
  complete: boolean;
}

export interface HistoryOptions {
  since?: StreamPosition;
  /** At most this many publications (the newest ones are kept when cut). */
  limit?: number;
}

export type PresenceEvent = { type: 'join' | 'leave'; channel: string; member: PresenceMember };

export interface BrokerSubscription {
  unsubscribe(): Promise<void>;
}

export interface Broker {
  /** Appends (or, for a repeated pid, finds) a publication. Rejects with BrokerError when the broker cannot accept it. */
  publish(channel: string, data: unknown, options?: { pid?: string }): Promise<BrokerPublishResult>;
  /**
   * Live publications of `channel` from the moment the returned promise resolves, in offset order,
   * each exactly once. `onGap` is called when the broker may have lost live publications (e.g. a
   * Redis reconnect): subscribers must recover from history.
   */
  subscribe(channel: string, onPublication: (publication: BrokerPublication) => void, onGap?: () => void): Promise<BrokerSubscription>;
  history(channel: string, options?: HistoryOptions): Promise<BrokerHistory>;
  /** Presence: members expire after ttlMs unless refreshed by another join (a dead node's members disappear). */
  join(channel: string, member: PresenceMember, ttlMs: number): Promise<void>;
  leave(channel: string, clientId: string): Promise<void>;
  members(channel: string): Promise<PresenceMember[]>;
  subscribePresence(channel: string, onEvent: (event: PresenceEvent) => void): Promise<BrokerSubscription>;
  close(): Promise<void>;
}

export interface BrokerOptions {
  /** History kept per channel: at most this many publications … */
  historySize?: number;
  /** … and none older than this. */
  historyTtlMs?: number;
  /** A repeated publish id within this window is a duplicate. */
  dedupWindowMs?: number;
  /** Injected clock (tests). */
  now?: () => number;
}

export const DEFAULT_BROKER_OPTIONS = {
  historySize: 1000,
  historyTtlMs: 10 * 60_000,
  dedupWindowMs: 10 * 60_000,
} as const;
