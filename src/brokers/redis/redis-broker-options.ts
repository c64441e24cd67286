// RedisBroker's options, their defaults and checks, and the two ioredis connections it opens,
// configured to fail fast (docs/deploy.md, "When Redis is unreachable").

import { Redis, type RedisOptions } from 'ioredis';
import type { BrokerOptions } from '../../realtime/broker.js';

export interface RedisBrokerOptions extends BrokerOptions {
  /** Default: process.env.REDIS_URL, else redis://127.0.0.1:6379. Unused when `client` is given. */
  url?: string;
  /** Every key and topic starts with it (default 'tidewire:'). */
  keyPrefix?: string;
  /**
   * ioredis options for the two connections the broker opens. The broker forces the ones its
   * guarantees need: enableOfflineQueue false, maxRetriesPerRequest 0, autoResendUnfulfilledCommands
   * false, no ioredis keyPrefix, and autoResubscribe false on the pub/sub connection. Defaults:
   * commandTimeout 2000 ms, retryStrategy min(attempt × 100, 1000) ms, connectionName 'tidewire'
   * (+ '-subscriber').
   */
  redis?: RedisOptions;
  /** An existing connection for commands instead of `url` (the application closes it). Configure it to fail fast as above. */
  client?: Redis;
  /** An existing connection for pub/sub (the application closes it); default: a duplicate of `client`, closed by close(). */
  subscriber?: Redis;
  /** Calls made within this time of the construction wait for the first connection; later ones fail at once while Redis is down (default 10 s). */
  readyTimeoutMs?: number;
  /** Period of the unref'd timer that expires presence members of the channels this node listens to; 0: only on calls (default 1000). */
  sweepIntervalMs?: number;
  /** Publications of one channel held while a gap in its live stream is filled from history (default 10 000). */
  maxPendingPublications?: number;
  /** Receives what a subscriber or presence listener threw (default: console.error). */
  onListenerError?: (error: unknown) => void;
  /** Receives the first connection error of each outage (default: console.error). */
  onConnectionError?: (error: unknown) => void;
}

export const REDIS_BROKER_DEFAULTS = {
  url: 'redis://127.0.0.1:6379',
  keyPrefix: 'tidewire:',
  commandTimeoutMs: 2000,
  readyTimeoutMs: 10_000,
  sweepIntervalMs: 1000,
  maxPendingPublications: 10_000,
} as const;

/** The command and pub/sub connections: given ones, or new ones configured to fail fast. */
export function connections(options: RedisBrokerOptions): [Redis, Redis] {
  const { connectionName = 'tidewire', ...chosen } = options.redis ?? {};
  const failFast: RedisOptions = {
    commandTimeout: REDIS_BROKER_DEFAULTS.commandTimeoutMs,
    // Reconnect attempts 100 ms apart, growing to one a second (ioredis: up to 2 s), so that a
    // node is back within a second of Redis.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    ...chosen,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    keyPrefix: '',
  };
  const pubsubOptions: RedisOptions = { ...failFast, autoResubscribe: false, connectionName: `${connectionName}-subscriber` };
  if (options.client !== undefined) {
    return [options.client, options.subscriber ?? options.client.duplicate(pubsubOptions)];
  }
  const url = options.url ?? process.env.REDIS_URL ?? REDIS_BROKER_DEFAULTS.url;
  const client = new Redis(url, { ...failFast, connectionName });
  return [client, options.subscriber ?? new Redis(url, pubsubOptions)];
}

export function checked(name: string, value: number, min: number, integer = false): number {
  if (!(value >= min) || (integer ? !Number.isSafeInteger(value) : !Number.isFinite(value))) {
    throw new RangeError(`RedisBroker: ${name} must be a${integer ? 'n integer' : ' number'} >= ${min}, got ${value}`);
  }
  return value;
}
