// What the chaos test published, what was acknowledged, what the broker appended (a tap on every
// channel) and what each subscriber was delivered, with the checks of docs/guarantees.md: each
// publish acked once and appended once, at its acked offset, in its client's send order; each
// subscriber gets its channels' publications once, in offset order, with no gap unless a
// `recovered: false` came first, and `recovered: false` only when history really lost its position.

import type { BrokerHistory, BrokerPublication, HistoryOptions } from '../../../src/realtime/broker.js';
import type { PublishResult } from '../../../src/realtime/envelope.js';

/** A chaos publication's payload: a unique id, its publisher and the publisher's sequence number. */
export interface ChaosMessage {
  id: string;
  client: number;
  seq: number;
  pad: string;
}

export interface SubscribedEvent {
  recovered: boolean;
  epoch: string;
  offset: number;
}

interface PublishRecord {
  readonly id: string;
  readonly client: number;
  readonly channel: string;
  readonly seq: number;
  acks: PublishResult[];
  rejections: string[];
}

interface ChannelRecord {
  readonly name: string;
  /** Its history is too short to cover every gap: recovered:false may (and must, when due) happen. */
  readonly tiny: boolean;
  epoch: string | null;
  /** Message ids by offset - 1, as the broker appended them. */
  readonly ids: string[];
}

/** One client's subscription to one channel, as its events arrived. */
export class SubscriberStream {
  /** The last offset delivered (or skipped by a recovered:false); null before the first `subscribed`. */
  last: number | null = null;
  epoch: string | null = null;
  firstOffset: number | null = null;
  delivered = 0;
  /** Offsets skipped after recovered:false. */
  skipped = 0;
  resubscribes = 0;
  recoveredFalse = 0;

  constructor(
    readonly client: number,
    readonly channel: string,
  ) {}
}

export interface LedgerCounts {
  publishes: number;
  acked: number;
  deliveries: number;
  resubscribes: number;
  recoveredTrue: number;
  recoveredFalse: number;
  /** Resubscribes on the tiny-history channels that history could still cover. */
  tinyRecoveredTrue: number;
  skipped: number;
}

const MAX_REPORTED = 40;

export class Ledger {
  private readonly channels = new Map<string, ChannelRecord>();
  private readonly publishes = new Map<string, PublishRecord>();
  private readonly tapped = new Set<string>();
  private readonly streams: SubscriberStream[] = [];
  private readonly violations: string[] = [];
  private violationCount = 0;
  private deliveries = 0;

  constructor(
    channels: ReadonlyArray<{ name: string; tiny: boolean }>,
    /** The broker's history (read at call time: MemoryBroker answers from its state when called). */
    private readonly history: (channel: string, options?: HistoryOptions) => Promise<BrokerHistory>,
  ) {
    for (const { name, tiny } of channels) this.channels.set(name, { name, tiny, epoch: null, ids: [] });
  }

  get failures(): readonly string[] {
    return this.violations;
  }

  get failureCount(): number {
    return this.violationCount;
  }

  fail(message: string): void {
    this.violationCount += 1;
    if (this.violations.length < MAX_REPORTED) this.violations.push(message);
  }

  /** The broker appended a publication (a tap subscribed before anyone else: it sees each one first). */
  tap(publication: BrokerPublication): void {
    const channel = this.channel(publication.channel);
    const data = publication.data as ChaosMessage;
    channel.epoch ??= publication.epoch;
    if (publication.epoch !== channel.epoch) this.fail(`broker: ${channel.name} changed epoch ${channel.epoch} -> ${publication.epoch}`);
    if (publication.offset !== channel.ids.length + 1) this.fail(`broker: ${channel.name} appended offset ${publication.offset} after ${channel.ids.length}`);
    if (this.tapped.has(data.id)) this.fail(`broker: message ${data.id} appended twice (again at ${channel.name}:${publication.offset})`);
    this.tapped.add(data.id);
    channel.ids.push(data.id);
  }

  /** Follows one publish promise: it must resolve exactly once. */
  publish(message: ChaosMessage, channel: string, result: Promise<PublishResult>): void {
    const record: PublishRecord = { id: message.id, client: message.client, channel, seq: message.seq, acks: [], rejections: [] };
    this.publishes.set(message.id, record);
    result.then(
      (ack) => record.acks.push(ack),
      (error: unknown) => record.rejections.push(String((error as { code?: string }).code ?? error)),
    );
  }

  get unsettledPublishes(): number {
    let count = 0;
    for (const record of this.publishes.values()) if (record.acks.length + record.rejections.length === 0) count += 1;
    return count;
  }

  stream(client: number, channel: string): SubscriberStream {
    this.channel(channel);
    const stream = new SubscriberStream(client, channel);
    this.streams.push(stream);
    return stream;
  }

  subscribed(stream: SubscriberStream, info: SubscribedEvent): void {
    const where = `client ${stream.client} ${stream.channel}`;
    const channel = this.channel(stream.channel);
    if (stream.last === null || stream.epoch === null) {
      if (!info.recovered) this.fail(`${where}: the first subscribe said recovered:false`);
      stream.last = info.offset;
      stream.epoch = info.epoch;
      stream.firstOffset = info.offset;
      return;
    }
    stream.resubscribes += 1;
    if (info.epoch !== stream.epoch) this.fail(`${where}: resubscribed into epoch ${info.epoch}, was ${stream.epoch}`);
    if (info.offset < stream.last) this.fail(`${where}: resubscribed at offset ${info.offset}, behind its position ${stream.last}`);
    if (info.recovered) return; // the replay must continue at last + 1: checked as it is delivered
    stream.recoveredFalse += 1;
    const since = { epoch: stream.epoch, offset: stream.last };
    if (!channel.tiny) this.fail(`${where}: recovered:false at position ${since.offset} (channel latest ${info.offset}) although its history holds everything`);
    if (info.offset <= since.offset) this.fail(`${where}: recovered:false at position ${since.offset} but nothing was missed (reply offset ${info.offset})`);
    // History only loses its oldest entries, so if it covers the position now it covered it when the server read it.
    void this.history(stream.channel, { since }).then((history) => {
      if (history.complete) this.fail(`${where}: recovered:false at position ${since.offset} (reply offset ${info.offset}) although history still covers ${since.offset + 1}..`);
    });
    stream.skipped += info.offset - since.offset;
    stream.last = info.offset;
  }

  delivered(stream: SubscriberStream, data: unknown, meta: { epoch: string; offset: number }): void {
    this.deliveries += 1;
    stream.delivered += 1;
    const where = `client ${stream.client} ${stream.channel}`;
    if (stream.last === null) return this.fail(`${where}: offset ${meta.offset} delivered before any subscribe result`);
    if (meta.epoch !== stream.epoch) this.fail(`${where}: offset ${meta.offset} delivered in epoch ${meta.epoch}, subscribed in ${stream.epoch}`);
    if (meta.offset !== stream.last + 1) {
      const what = meta.offset <= stream.last ? 'a duplicate or out of order' : `a gap of ${meta.offset - stream.last - 1} with no recovered:false before it`;
      this.fail(`${where}: delivered offset ${meta.offset} after ${stream.last}: ${what}`);
    }
    stream.last = Math.max(stream.last, meta.offset);
    const expected = this.channel(stream.channel).ids[meta.offset - 1];
    const id = (data as ChaosMessage | null)?.id;
    if (id !== expected) this.fail(`${where}: offset ${meta.offset} delivered as ${String(id)}, the broker appended ${String(expected)}`);
  }

  /** The latest offset the broker appended on `channel`. */
  latest(channel: string): number {
    return this.channel(channel).ids.length;
  }

  /** Subscriptions not yet at their channel's latest offset. */
  lagging(): SubscriberStream[] {
    return this.streams.filter((stream) => stream.last !== this.latest(stream.channel));
  }

  counts(): LedgerCounts {
    const counts: LedgerCounts = {
      publishes: this.publishes.size, acked: 0, deliveries: this.deliveries, resubscribes: 0, recoveredTrue: 0, recoveredFalse: 0, tinyRecoveredTrue: 0, skipped: 0,
    };
    for (const record of this.publishes.values()) counts.acked += record.acks.length;
    for (const stream of this.streams) {
      counts.resubscribes += stream.resubscribes;
      counts.recoveredFalse += stream.recoveredFalse;
      counts.skipped += stream.skipped;
      if (this.channel(stream.channel).tiny) counts.tinyRecoveredTrue += stream.resubscribes - stream.recoveredFalse;
    }
    counts.recoveredTrue = counts.resubscribes - counts.recoveredFalse;
    return counts;
  }

  /** The end-state checks, once everything settled; `retained` is each channel's whole retained history. */
  verify(retained: ReadonlyMap<string, BrokerPublication[]>): void {
    this.verifyPublishes();
    for (const channel of this.channels.values()) this.verifyChannel(channel, retained.get(channel.name) ?? []);
    for (const stream of this.streams) this.verifyStream(stream);
  }

  private verifyPublishes(): void {
    const byClientChannel = new Map<string, PublishRecord[]>();
    const positions = new Map<string, string>();
    for (const record of this.publishes.values()) {
      const what = `client ${record.client} publish ${record.id} to ${record.channel}`;
      if (record.rejections.length > 0) this.fail(`${what}: rejected with ${record.rejections.join(', ')}`);
      if (record.acks.length !== 1) this.fail(`${what}: acknowledged ${record.acks.length} times`);
      const ack = record.acks[0];
      if (ack === undefined) continue;
      const channel = this.channel(record.channel);
      const position = `${record.channel}:${ack.offset}`;
      const other = positions.get(position);
      if (other !== undefined) this.fail(`${what}: acked at ${position}, the position of ${other} too`);
      positions.set(position, record.id);
      if (ack.epoch !== channel.epoch) this.fail(`${what}: acked in epoch ${ack.epoch}, the channel's is ${channel.epoch}`);
      const appended = channel.ids[ack.offset - 1];
      if (appended !== record.id) this.fail(`${what}: acked at offset ${ack.offset}, where the broker appended ${String(appended)}`);
      const key = `${record.client}/${record.channel}`;
      const same = byClientChannel.get(key) ?? [];
      byClientChannel.set(key, same);
      same.push(record);
    }
    for (const [key, records] of byClientChannel) {
      const offsets = records.sort((a, b) => a.seq - b.seq).map((record) => record.acks[0]!.offset);
      const out = offsets.findIndex((offset, index) => index > 0 && offset <= offsets[index - 1]!);
      if (out > 0) this.fail(`client/channel ${key}: publish #${records[out]!.seq} acked at ${offsets[out]}, before the earlier publish #${records[out - 1]!.seq} at ${offsets[out - 1]}: send order lost`);
    }
    for (const id of this.tapped) if (!this.publishes.has(id)) this.fail(`broker: appended ${id}, which nobody published`);
    for (const id of this.publishes.keys()) if (!this.tapped.has(id)) this.fail(`publish ${id}: never appended by the broker`);
  }

  private verifyChannel(channel: ChannelRecord, retained: BrokerPublication[]): void {
    const expected = channel.tiny ? channel.ids.slice(channel.ids.length - retained.length) : channel.ids;
    if (!channel.tiny && retained.length !== channel.ids.length) this.fail(`${channel.name}: history holds ${retained.length} publications, ${channel.ids.length} were appended`);
    const first = channel.ids.length - expected.length + 1;
    retained.forEach((publication, index) => {
      const id = (publication.data as ChaosMessage).id;
      if (publication.offset !== first + index || id !== expected[index]) {
        this.fail(`${channel.name}: history has ${id} at offset ${publication.offset}, the tap saw ${String(expected[index])} at ${first + index}`);
      }
    });
  }

  private verifyStream(stream: SubscriberStream): void {
    const where = `client ${stream.client} ${stream.channel}`;
    const latest = this.latest(stream.channel);
    if (stream.last !== latest) this.fail(`${where}: ended at offset ${String(stream.last)}, the channel's latest is ${latest}`);
    if (this.channel(stream.channel).tiny) {
      if (stream.firstOffset !== null && stream.delivered + stream.skipped !== latest - stream.firstOffset) {
        this.fail(`${where}: ${stream.delivered} delivered + ${stream.skipped} skipped after recovered:false != ${latest - stream.firstOffset} published since it subscribed`);
      }
      return;
    }
    if (stream.firstOffset !== 0) this.fail(`${where}: first subscribed at offset ${String(stream.firstOffset)}, before any publish it should be 0`);
    if (stream.delivered !== latest) this.fail(`${where}: ${stream.delivered} delivered of the channel's ${latest} publications`);
  }

  private channel(name: string): ChannelRecord {
    const channel = this.channels.get(name);
    if (channel === undefined) throw new Error(`ledger: unknown channel ${name}`);
    return channel;
  }
}
