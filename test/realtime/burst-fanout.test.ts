// Bursts of publications: what arrives from the broker in one turn is handed to the listeners as
// one batch, a live subscriber exactly at the batch's start takes it whole (one write), and every
// other case (a sink that wants them one by one, a subscription still reading history, the
// outbound bound) falls back to the per-publication checks, so order, no gap, no duplicate and
// the slow-consumer close hold as before.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Broker } from '../../src/realtime/broker.js';
import { ChannelFanout, type FanoutListener } from '../../src/realtime/channel-fanout.js';
import { ChannelSubscription, type SubscriptionSink } from '../../src/realtime/channel-subscription.js';
import type { EncodedFrame } from '../../src/realtime/encoded-frame.js';
import type { PublicationFrame } from '../../src/realtime/envelope.js';
import { MemoryBroker } from '../../src/realtime/memory-broker.js';
import type { PublicationBatch } from '../../src/realtime/publication-batch.js';
import { Opcode, RawClient } from '../node/support/raw-client.js';
import { once, startRealtime, wrapBroker } from './support/envelope-client.js';

/** Lets every queued microtask and the fan-out's hand-over run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Publishes `count` publications back to back (one turn), as a burst. */
function burst(broker: Broker, channel: string, count: number, first = 0): Promise<unknown> {
  return Promise.all(Array.from({ length: count }, (_, i) => broker.publish(channel, first + i)));
}

class RecordingListener implements FanoutListener {
  readonly calls: (number | number[])[] = [];
  onPublication(publication: EncodedFrame<PublicationFrame>): void {
    this.calls.push(publication.frame.offset);
  }
  onPublications(batch: PublicationBatch): void {
    this.calls.push(batch.publications.map((publication) => publication.frame.offset));
  }
  onGap(): void {}
}

class RecordingSink implements SubscriptionSink {
  readonly delivered: number[] = [];
  batches = 0;
  constructor(private readonly takesBatches: boolean) {}
  deliver(publication: EncodedFrame<PublicationFrame>): void {
    this.delivered.push(publication.frame.offset);
  }
  deliverBatch(batch: PublicationBatch): boolean {
    if (!this.takesBatches) return false;
    this.batches++;
    for (const publication of batch.publications) this.delivered.push(publication.frame.offset);
    return true;
  }
  overflow(): void {
    throw new Error('unexpected overflow');
  }
  lost(): void {
    throw new Error('unexpected loss');
  }
  hasRoom(): boolean {
    return true;
  }
  whenRoom(): void {
    throw new Error('unexpected wait for room');
  }
}

async function liveSubscription(broker: Broker, sink: SubscriptionSink, channel = 'c'): Promise<ChannelSubscription> {
  const subscription = new ChannelSubscription(channel, new ChannelFanout(broker), broker, sink, { volatile: false, maxBufferedPublications: 100 });
  await subscription.start(undefined);
  subscription.activate();
  return subscription;
}

describe('burst fan-out', () => {
  test('ChannelFanout hands publications of one turn over as one batch, and a lone one as itself', async () => {
    const broker = new MemoryBroker();
    const fanout = new ChannelFanout(broker);
    const listener = new RecordingListener();
    await fanout.attach('c', listener);
    await burst(broker, 'c', 5);
    await settle();
    await broker.publish('c', 'alone');
    await settle();
    assert.deepEqual(listener.calls, [[1, 2, 3, 4, 5], 6]);
    await broker.close();
  });

  test('a live subscription at the batch start takes it whole; one that declines gets each publication in order', async () => {
    const broker = new MemoryBroker();
    const whole = new RecordingSink(true);
    const single = new RecordingSink(false);
    await liveSubscription(broker, whole);
    await liveSubscription(broker, single);
    await burst(broker, 'c', 4);
    await settle();
    await burst(broker, 'c', 3, 4);
    await settle();
    assert.deepEqual(whole.delivered, [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(whole.batches, 2);
    assert.deepEqual(single.delivered, [1, 2, 3, 4, 5, 6, 7]);
    await broker.close();
  });

  test('a burst while the subscription still reads history is buffered and forwarded once, in order', async () => {
    const inner = new MemoryBroker();
    await burst(inner, 'c', 3); // history 1..3
    let releaseHistory!: () => void;
    const held = new Promise<void>((resolve) => (releaseHistory = resolve));
    const broker = wrapBroker(inner, {
      history: async (...args) => {
        const history = await inner.history(...args);
        await held;
        return history;
      },
    });
    const sink = new RecordingSink(true);
    const subscription = new ChannelSubscription('c', new ChannelFanout(broker), broker, sink, { volatile: false, maxBufferedPublications: 100 });
    const started = subscription.start({ epoch: (await inner.history('c')).epoch, offset: 1 });
    await settle();
    await burst(inner, 'c', 4); // 4..7 arrive live while history (up to 3, or up to 7) is read
    await settle();
    releaseHistory();
    const result = await started;
    subscription.activate();
    await burst(inner, 'c', 2); // 8..9: live, exactly at the start
    await settle();
    const replayed = result.publications.map((publication) => publication.offset);
    assert.deepEqual([...replayed, ...sink.delivered], [2, 3, 4, 5, 6, 7, 8, 9]);
    await inner.close();
  });

  test('over sockets: a burst reaches every subscriber once and in order, and a stalled one is closed with 1013', async (t) => {
    const { rt, port, connect, beforeClose } = await startRealtime(t, { maxOutboundBytes: 256 * 1024, broker: new MemoryBroker({ historySize: 10 }) });
    const readers = [await connect(), await connect(), await connect()];
    for (const reader of readers) await reader.ok({ t: 'sub', channel: 'burst' });
    await Promise.all(Array.from({ length: 200 }, (_, i) => rt.publish('burst', { i })));
    for (const reader of readers) {
      const offsets = (await reader.publications('burst', 200)).map((frame) => frame.offset);
      assert.deepEqual(offsets, Array.from({ length: 200 }, (_, i) => i + 1));
    }

    const raw = await RawClient.connect(port, { path: '/realtime', headers: { 'Sec-WebSocket-Protocol': 'tidewire.v1.json' } });
    beforeClose(() => raw.destroy());
    assert.equal(JSON.parse((await raw.nextFrame()).payload.toString()).t, 'hello');
    await raw.sendFrame(Opcode.TEXT, JSON.stringify({ t: 'sub', id: 1, channel: 'firehose' }));
    assert.equal(JSON.parse((await raw.nextFrame()).payload.toString()).t, 'result');
    raw.pauseReading();
    const closed = once<[unknown, number]>(rt, 'sessionClosed');
    const chunk = 'x'.repeat(64 * 1024);
    let bursts = 0;
    let closedWith: number | undefined;
    void closed.then(([, code]) => (closedWith = code));
    while (closedWith === undefined && bursts < 100) {
      await Promise.all(Array.from({ length: 8 }, () => rt.publish('firehose', chunk))); // 512 KiB a burst: past the bound at once
      bursts++;
      await settle();
    }
    assert.equal(closedWith, 1013);
    raw.resumeReading();
    const { code, before } = await raw.readUntilClose();
    assert.equal(code, 1013);
    const offsets = before.map((frame) => (JSON.parse(frame.payload.toString()) as { offset?: number }).offset);
    assert.ok(offsets.length > 0, 'it got the part that fit');
    assert.deepEqual(offsets, Array.from({ length: offsets.length }, (_, i) => i + 1), 'what it got is contiguous: it recovers the rest from history');
  });
});
