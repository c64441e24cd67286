// The broker of a `tidewire serve` node: RedisBroker when --redis is given (several nodes share
// channels, history and presence), else MemoryBroker (one node only).

import { MemoryBroker, RedisBroker, type Broker } from '../index.js';

export type ServeBrokerKind = 'redis' | 'memory';

export interface ServeBrokerOptions {
  redisUrl?: string;
  keyPrefix: string;
  historySize?: number;
  historyTtlMs?: number;
  /** Where Redis connection errors are reported (once per outage). */
  log: (line: string) => void;
}

/** The broker, what to call it in logs, and a wait for its backend (a node does not listen before Redis answers). */
export function serveBroker(options: ServeBrokerOptions): { broker: Broker; kind: ServeBrokerKind; ready(): Promise<void> } {
  const history = {
    ...(options.historySize !== undefined ? { historySize: options.historySize } : {}),
    ...(options.historyTtlMs !== undefined ? { historyTtlMs: options.historyTtlMs } : {}),
  };
  if (options.redisUrl === undefined) return { broker: new MemoryBroker(history), kind: 'memory', ready: async () => {} };
  const broker = new RedisBroker({
    url: options.redisUrl,
    keyPrefix: options.keyPrefix,
    ...history,
    onConnectionError: (error) => options.log(`Redis unreachable: ${error instanceof Error ? error.message : String(error)} (publishes fail with BROKER_UNAVAILABLE until it is back)`),
  });
  return { broker, kind: 'redis', ready: () => broker.ready() };
}

/** The URL without its password, for logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.href;
  } catch {
    return '(unparsable URL)';
  }
}
