// The bookkeeping of a multi-node chat run, per message: every publish (its outcome, epoch and
// offset), every delivery to every subscriber, every `subscribed` event. The checks return a list
// of problems, so a failure names the messages and clients concerned instead of one count.

import type { SubscribedInfo } from '../../../src/index.js';

export interface ChatMessage {
  /** `<client>:<seq>`: unique in the run. */
  id: string;
  client: number;
  seq: number;
}

export type PublishOutcome =
  | { state: 'pending' }
  | { state: 'acked'; epoch: string; offset: number; settlements: number }
  | { state: 'rejected'; code: string; message: string; settlements: number };

export interface PublishRecord {
  message: ChatMessage;
  channel: string;
  outcome: PublishOutcome;
  /** Run time (ms) the publish was made. */
  at: number;
}

export interface Delivery {
  id: string;
  epoch: string;
  offset: number;
}

/** What one client saw on one channel, in arrival order. */
export interface ChannelView {
  deliveries: Delivery[];
  subscribed: SubscribedInfo[];
}

export class ChatLedger {
  readonly publishes = new Map<string, PublishRecord>();
  /** views[client].get(channel) */
  readonly views: Map<string, ChannelView>[] = [];

  view(client: number, channel: string): ChannelView {
    const byChannel = (this.views[client] ??= new Map());
    let view = byChannel.get(channel);
    if (view === undefined) byChannel.set(channel, (view = { deliveries: [], subscribed: [] }));
    return view;
  }

  published(message: ChatMessage, channel: string, at: number): PublishRecord {
    const record: PublishRecord = { message, channel, outcome: { state: 'pending' }, at };
    this.publishes.set(message.id, record);
    return record;
  }

  acked(record: PublishRecord, epoch: string, offset: number): void {
    const previous = record.outcome.state === 'pending' ? 0 : record.outcome.settlements;
    record.outcome = { state: 'acked', epoch, offset, settlements: previous + 1 };
  }

  rejected(record: PublishRecord, code: string, message: string): void {
    const previous = record.outcome.state === 'pending' ? 0 : record.outcome.settlements;
    record.outcome = { state: 'rejected', code, message, settlements: previous + 1 };
  }

  /** Acked publishes of `channel` in `epoch`, by offset. */
  ackedIn(channel: string, epoch?: string): PublishRecord[] {
    return [...this.publishes.values()]
      .filter((record) => record.channel === channel && record.outcome.state === 'acked' && (epoch === undefined || record.outcome.epoch === epoch))
      .sort((a, b) => offsetOf(a) - offsetOf(b));
  }

  /** Epochs of the acked publishes of `channel`, in order of first ack time. */
  epochsOf(channel: string): string[] {
    const epochs: string[] = [];
    for (const record of [...this.publishes.values()].sort((a, b) => a.at - b.at)) {
      if (record.channel === channel && record.outcome.state === 'acked' && !epochs.includes(record.outcome.epoch)) epochs.push(record.outcome.epoch);
    }
    return epochs;
  }

  counts(): { published: number; acked: number; rejected: number; pending: number; deliveries: number } {
    const states = [...this.publishes.values()].map((record) => record.outcome.state);
    const deliveries = this.views.reduce((sum, byChannel) => sum + [...byChannel.values()].reduce((s, view) => s + view.deliveries.length, 0), 0);
    return {
      published: states.length,
      acked: states.filter((state) => state === 'acked').length,
      rejected: states.filter((state) => state === 'rejected').length,
      pending: states.filter((state) => state === 'pending').length,
      deliveries,
    };
  }
}

export function offsetOf(record: PublishRecord): number {
  return record.outcome.state === 'acked' ? record.outcome.offset : Number.NaN;
}

/** Problems with the publishes themselves: settled once, acked ones at distinct offsets, and each client's in its send order. */
export function publishProblems(ledger: ChatLedger, allowRejected: (code: string) => boolean): string[] {
  const problems: string[] = [];
  const byPosition = new Map<string, string>();
  const lastOffset = new Map<string, { seq: number; epoch: string; offset: number }>();
  const records = [...ledger.publishes.values()].sort((a, b) => a.message.client - b.message.client || a.message.seq - b.message.seq);
  for (const record of records) {
    const { outcome, message, channel } = record;
    if (outcome.state === 'pending') {
      problems.push(`publish ${message.id} on ${channel} never settled`);
      continue;
    }
    if (outcome.settlements !== 1) problems.push(`publish ${message.id} settled ${outcome.settlements} times`);
    if (outcome.state === 'rejected') {
      if (!allowRejected(outcome.code)) problems.push(`publish ${message.id} on ${channel} rejected: ${outcome.code} ${outcome.message}`);
      continue;
    }
    const position = `${channel}@${outcome.epoch}:${outcome.offset}`;
    const holder = byPosition.get(position);
    if (holder !== undefined) problems.push(`publishes ${holder} and ${message.id} were both acked at ${position}`);
    byPosition.set(position, message.id);
    const key = `${message.client}/${channel}`;
    const previous = lastOffset.get(key);
    if (previous !== undefined && previous.epoch === outcome.epoch && previous.offset >= outcome.offset) {
      problems.push(`client ${message.client}'s publish ${message.id} on ${channel} got offset ${outcome.offset}, not after its earlier seq ${previous.seq} (offset ${previous.offset})`);
    }
    lastOffset.set(key, { seq: message.seq, epoch: outcome.epoch, offset: outcome.offset });
  }
  return problems;
}

/**
 * Problems with what `client` received on `channel` in `epoch` after `afterOffset`: exactly the
 * acked publications with larger offsets, each once, in offset order, each the message acked there.
 * `ackedElsewhere` names deliveries allowed to have been acked at another position (still once, in order).
 */
export function deliveryProblems(ledger: ChatLedger, client: number, channel: string, epoch: string, afterOffset: number, ackedElsewhere: (delivery: Delivery) => boolean = () => false): string[] {
  const expected = ledger.ackedIn(channel, epoch).filter((record) => offsetOf(record) > afterOffset);
  const got = ledger.view(client, channel).deliveries.filter((delivery) => delivery.epoch === epoch && delivery.offset > afterOffset);
  const problems: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < got.length; i += 1) {
    const delivery = got[i]!;
    if (seen.has(delivery.id)) problems.push(`client ${client} got ${delivery.id} on ${channel} twice`);
    seen.add(delivery.id);
    const previous = got[i - 1];
    if (previous !== undefined && previous.offset >= delivery.offset) problems.push(`client ${client} got offset ${delivery.offset} after ${previous.offset} on ${channel}`);
    const acked = ledger.publishes.get(delivery.id);
    if (ackedElsewhere(delivery)) continue;
    if (acked === undefined || acked.channel !== channel || acked.outcome.state !== 'acked' || acked.outcome.offset !== delivery.offset || acked.outcome.epoch !== epoch) {
      problems.push(`client ${client} got ${delivery.id} at ${channel}@${epoch}:${delivery.offset}, which is not where it was acked (${JSON.stringify(acked?.outcome)})`);
    }
  }
  const missing = expected.filter((record) => !seen.has(record.message.id));
  if (missing.length > 0) {
    const offsets = missing.map(offsetOf);
    problems.push(`client ${client} is missing ${missing.length} of ${expected.length} publications on ${channel}@${epoch} (offsets ${offsets.slice(0, 8).join(', ')}${offsets.length > 8 ? ', …' : ''})`);
  }
  return problems;
}

/** Summarizes a problem list for an assertion message. */
export function describeProblems(problems: readonly string[], limit = 25): string {
  return `${problems.length} problem(s):\n  ${problems.slice(0, limit).join('\n  ')}${problems.length > limit ? `\n  … and ${problems.length - limit} more` : ''}`;
}
