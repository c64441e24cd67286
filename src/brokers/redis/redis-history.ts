// Channel history from the stream: the arguments of the history script and the BrokerHistory its
// reply means, with `complete` decided as MemoryBroker decides it (broker.ts, BrokerHistory).

import type { BrokerHistory, HistoryOptions } from '../../realtime/broker.js';
import { decodePublication } from './redis-codec.js';

/** ARGV of the history script after the candidate epoch, historySize and historyTtlMs. */
export function historyArguments(options: HistoryOptions): string[] {
  const { since, limit } = options;
  if (since !== undefined && (typeof since.epoch !== 'string' || !Number.isSafeInteger(since.offset) || since.offset < 0)) {
    throw new TypeError('history: since must be { epoch: string, offset: integer >= 0 }');
  }
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) throw new TypeError('history: limit must be an integer >= 0');
  return [since?.epoch ?? '', String(since?.offset ?? 0), limit === undefined ? '' : String(limit)];
}

export function historyFromReply(channel: string, options: HistoryOptions, reply: unknown): BrokerHistory {
  const [epochBytes, latestOffset, oldestOffset, payloads] = reply as [Buffer, number, number, Buffer[]];
  const epoch = epochBytes.toString('utf8');
  const { since, limit } = options;
  const publications = payloads.map((payload) => decodePublication(channel, payload));
  if (limit !== undefined) publications.reverse(); // the script read them newest first
  // Same epoch and an offset it issued: history continues `since`; otherwise it starts over.
  const continues = since !== undefined && since.epoch === epoch && since.offset <= latestOffset;
  let complete = since === undefined || (continues && oldestOffset <= since.offset + 1);
  if (limit !== undefined) {
    const from = continues ? Math.max(oldestOffset, (since?.offset ?? 0) + 1) : oldestOffset;
    if (latestOffset - from + 1 > limit) complete = false; // the limit cut something asked for
  }
  return { epoch, latestOffset, publications, complete };
}
