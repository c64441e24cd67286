// A replay goes out as fast as the connection takes it: the subscription sends while the sink has
// room, waits for room otherwise (live publications held meanwhile, then forwarded in order), so
// a healthy client recovering more than maxOutboundBytes is not closed as a slow consumer.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChannelFanout } from '../../src/realtime/channel-fanout.js';
import { ChannelSubscription, type SubscriptionSink } from '../../src/realtime/channel-subscription.js';
import type { EncodedFrame } from '../../src/realtime/encoded-frame.js';
import type { PublicationFrame } from '../../src/realtime/envelope.js';
import { MemoryBroker } from '../../src/realtime/memory-broker.js';
import { ClientState } from '../../src/realtime/client-state.js';
import { collect, connected, eventually, nextSubscribed, startHarness } from './support/client-harness.js';

/** A sink with room for `room` more publications at a time; whenRoom() waits for grant(). */
class MeteredSink implements SubscriptionSink {
  readonly delivered: number[] = [];
  private resume: (() => void) | null = null;
  constructor(private room: number) {}
  deliver(publication: EncodedFrame<PublicationFrame>): void {
    this.delivered.push(publication.frame.offset);
    this.room -= 1;
  }
  deliverBatch(): boolean {
    return false;
  }
  overflow(): void {
    throw new Error('unexpected overflow');
  }
  lost(): void {
    throw new Error('unexpected loss');
  }
  hasRoom(): boolean {
    return this.room > 0;
  }
  whenRoom(resume: () => void): void {
    assert.equal(this.resume, null, 'one wait at a time');
    this.resume = resume;
  }
  get waiting(): boolean {
    return this.resume !== null;
  }
  grant(room: number): void {
    this.room += room;
    const resume = this.resume;
    this.resume = null;
    resume?.();
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('paced replay', () => {
  test('sends while there is room, holds live publications meanwhile, then forwards them in order', async () => {
    const broker = new MemoryBroker();
    const first = await broker.publish('c', 0);
    for (let n = 1; n < 300; n += 1) await broker.publish('c', n);
    const sink = new MeteredSink(50);
    const subscription = new ChannelSubscription('c', new ChannelFanout(broker), broker, sink, { volatile: false, maxBufferedPublications: 100 });
    const result = await subscription.start({ epoch: first.epoch, offset: 1 });
    assert.ok(result.recovered);
    const inResult = result.publications.length;
    subscription.activate();
    assert.equal(sink.delivered.length, 50, 'stops when the room is used up');
    assert.ok(sink.waiting);
    await broker.publish('c', 'live-1');
    await broker.publish('c', 'live-2');
    await settle();
    assert.equal(sink.delivered.length, 50, 'live publications wait behind the replay');
    while (sink.waiting) sink.grant(40);
    await settle();
    const expected = Array.from({ length: 302 - 1 - inResult }, (_, i) => 2 + inResult + i);
    assert.deepEqual(sink.delivered, expected, 'the rest of the replay, then the live ones, each once, in order');
    subscription.stop();
    await broker.close();
  });

  test('a healthy client recovering far more than maxOutboundBytes gets all of it, without a 1013', async () => {
    const maxOutboundBytes = 64 * 1024;
    const harness = await startHarness({ heartbeatIntervalMs: 0, maxOutboundBytes }, { historySize: 2000 });
    try {
      const publisher = await connected(harness.client({ token: 'pub' }));
      const subscriber = await connected(harness.client({ token: 'sub' }));
      const subscription = subscriber.subscribe('chat');
      await nextSubscribed(subscription);
      const received = collect(subscription);
      await publisher.publish('chat', { from: 'p', text: 'first' });
      await eventually(() => received.length === 1, 'the first tick');
      const closes: number[] = [];
      subscriber.on('state', (state, info) => state === ClientState.DISCONNECTED && closes.push(info.code ?? 0));
      harness.blocked.add('sub');
      harness.kill('sub');
      await eventually(() => subscriber.state === ClientState.DISCONNECTED, 'the subscriber to notice the drop');
      const text = 'x'.repeat(1000);
      for (let round = 0; round < 3; round += 1) await Promise.all(Array.from({ length: 500 }, () => publisher.publish('chat', { from: 'p', text })));
      harness.blocked.delete('sub');
      const info = await nextSubscribed(subscription);
      closes.length = 0; // refused attempts while blocked; what counts is after the subscribe result
      assert.equal(info.recovered, true);
      await eventually(() => received.length === 1501, 'every missed publication (~1.5 MB, 23x the bound)');
      assert.deepEqual(closes, [], 'no reconnect while recovering');
      assert.deepEqual(received.map((entry) => entry.offset), Array.from({ length: 1501 }, (_, i) => i + 1));
    } finally {
      await harness.close();
    }
  });
});
