// RealtimeClient across dropped connections, against a real RealtimeServer over real sockets:
// publishes resent with their pid (never lost, never doubled), the offline queue and its bound,
// retries after RATE_LIMITED / BROKER_UNAVAILABLE, recovery and recovered:false.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClientState } from '../../src/realtime/client-state.js';
import type { SubscribedInfo } from '../../src/realtime/client-subscription.js';
import type { PublishResult } from '../../src/realtime/envelope.js';
import { MemoryBroker } from '../../src/realtime/memory-broker.js';
import { BrokerError } from '../../src/realtime/broker.js';
import { RealtimeErrorCode } from '../../src/realtime/realtime-errors.js';
import { withTimeout } from '../helpers/with-timeout.js';
import { wrapBroker } from './support/envelope-client.js';
import { collect, connected, eventually, isCode, nextState, nextSubscribed, startHarness, TIMEOUT_MS } from './support/client-harness.js';

describe('RealtimeClient across dropped connections', () => {
  it('a subscribe refused because the broker is briefly unavailable is retried with backoff and then succeeds', async () => {
    class FlakyBroker extends MemoryBroker {
      failuresLeft = 2;
      override async history(...args: Parameters<MemoryBroker['history']>): ReturnType<MemoryBroker['history']> {
        if (this.failuresLeft-- > 0) throw new BrokerError('reconnecting to the store');
        return super.history(...args);
      }
    }
    const harness = await startHarness({ heartbeatIntervalMs: 0, broker: new FlakyBroker() });
    try {
      const client = await connected(harness.client({ backoff: { baseMs: 10, capMs: 50 } }));
      const ticks = client.subscribe('ticks');
      const errors: unknown[] = [];
      ticks.on('error', (error) => errors.push(error));
      const subscribed = await nextSubscribed(ticks);
      assert.equal(subscribed.recovered, true);
      const received = collect(ticks);
      await harness.rt.publish('ticks', 1);
      await eventually(() => received.length === 1, 'the publication after the retried subscribe');
      assert.deepEqual(errors, [], 'the refusals were retried, not reported as the end of the subscription');
      client.close();
    } finally {
      await harness.close();
    }
  });
  it('a subscriber that missed more than its WebSocket message limit recovers everything, in order (the replay is not one giant frame)', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0 }, { historySize: 2000 });
    try {
      const client = await connected(harness.client({ token: 'reader', random: () => 0 }));
      const news = client.subscribe('ticks');
      await nextSubscribed(news);
      const received = collect(news);
      const recoveredFlags: boolean[] = [];
      news.on('subscribed', ({ recovered }) => recoveredFlags.push(recovered));
      harness.blocked.add('reader');
      harness.kill('reader');
      await nextState(client, ClientState.DISCONNECTED);
      const text = 'x'.repeat(1500); // 800 × 1500 B: well past the client WebSocket's 1 MiB default limit
      for (let i = 0; i < 800; i++) await harness.rt.publish('ticks', `${i}:${text}`);
      harness.blocked.delete('reader');
      await eventually(() => received.length === 800, 'all 800 missed publications');
      assert.deepEqual(received.map((r) => r.offset), Array.from({ length: 800 }, (_, i) => i + 1));
      assert.deepEqual(received.map((r) => String(r.data).split(':')[0]), Array.from({ length: 800 }, (_, i) => String(i)));
      assert.deepEqual(recoveredFlags, [true]);
      client.close();
    } finally {
      await harness.close();
    }
  });
  it('the server drops connections while publishing: each publish acked once and in the channel once; the subscriber recovers what it missed', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0 });
    try {
      const publisher = await connected(harness.client({ token: 'pub' }));
      const subscriber = await connected(harness.client({ token: 'sub' }));
      const subscription = subscriber.subscribe('chat');
      const infos: SubscribedInfo[] = [];
      subscription.on('subscribed', (info) => infos.push(info));
      await nextSubscribed(subscription);
      const received = collect(subscription);
      const acks: Array<Promise<PublishResult>> = [];
      const ackCounts: number[] = [];
      for (let round = 0; round < 6; round += 1) {
        for (let n = 0; n < 50; n += 1) {
          const index = acks.length;
          ackCounts[index] = 0;
          acks.push(publisher.publish('chat', { from: 'pub', text: String(index) }).then((ack) => {
            ackCounts[index]! += 1;
            return ack;
          }));
        }
        await new Promise((resolve) => setTimeout(resolve, 3 + round * 2));
        harness.kill(round % 2 === 0 ? undefined : 'pub'); // both sides, or only the publisher
      }
      const results = await withTimeout(Promise.all(acks), 10_000, 'every ack');
      assert.ok(ackCounts.every((count) => count === 1));
      const offsets = results.map((ack) => ack.offset);
      assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), 'acked in send order');
      assert.equal(new Set(offsets).size, 300, 'each publish has its own offset');
      const history = await harness.broker.history('chat');
      assert.deepEqual(history.publications.map((publication) => (publication.data as { text: string }).text), results.map((_, index) => String(index)), 'each appears once, in send order');
      assert.deepEqual(history.publications.map((publication) => publication.offset), offsets);
      await eventually(() => received.length >= 300, 'the subscriber caught up');
      assert.deepEqual(received.map((entry) => entry.data.text), results.map((_, index) => String(index)), 'delivered once each, in order');
      assert.ok(infos.length >= 2, 'the subscriber was dropped and resubscribed');
      assert.ok(infos.every((info) => info.recovered), 'history covered every gap');
      assert.equal(subscription.recovered, true);
    } finally {
      await harness.close();
    }
  });

  it('offline publishes wait in the queue and go out in order after the reconnect', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0 });
    try {
      const subscriber = await connected(harness.client({ token: 'sub' }));
      const subscription = subscriber.subscribe('chat');
      await nextSubscribed(subscription);
      const received = collect(subscription);
      const publisher = await connected(harness.client({ token: 'pub' }));
      harness.blocked.add('pub');
      harness.kill('pub');
      await nextState(publisher, ClientState.DISCONNECTED);
      const acks = Array.from({ length: 10 }, (_, n) => publisher.publish('chat', { from: 'pub', text: String(n) }));
      assert.equal(publisher.queuedPublishes, 10);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(received.length, 0, 'nothing went out while offline');
      harness.blocked.delete('pub');
      const results = await withTimeout(Promise.all(acks), TIMEOUT_MS, 'acks');
      assert.deepEqual(results.map((ack) => ack.offset), Array.from({ length: 10 }, (_, n) => n + 1));
      await eventually(() => received.length === 10, 'delivery');
      assert.deepEqual(received.map((entry) => entry.data.text), Array.from({ length: 10 }, (_, n) => String(n)));
      assert.equal(publisher.queuedPublishes, 0);
    } finally {
      await harness.close();
    }
  });

  it('rejects the publish past maxQueuedPublishes with QUEUE_FULL; the queued ones still go out', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0 });
    try {
      harness.blocked.add('*');
      const client = harness.client({ maxQueuedPublishes: 3 });
      const queued = [1, 2, 3].map((n) => client.publish('ticks', n));
      await assert.rejects(client.publish('ticks', 4), isCode(RealtimeErrorCode.QUEUE_FULL));
      assert.equal(client.queuedPublishes, 3);
      harness.blocked.clear();
      assert.deepEqual((await withTimeout(Promise.all(queued), TIMEOUT_MS, 'acks')).map((ack) => ack.offset), [1, 2, 3]);
      assert.deepEqual((await client.publish('ticks', 5)).offset, 4);
    } finally {
      await harness.close();
    }
  });

  it('a publish answered RATE_LIMITED is sent again after a backoff delay: every one acked once, each in the channel once', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0, rateLimit: { ratePerSecond: 100, burst: 4 } });
    try {
      const client = await connected(harness.client({ random: () => 0.5 }));
      const results = await withTimeout(Promise.all(Array.from({ length: 6 }, (_, n) => client.publish('ticks', n))), TIMEOUT_MS, 'acks');
      assert.equal(client.state, ClientState.CONNECTED);
      const history = await harness.broker.history('ticks');
      assert.deepEqual(history.publications.map((publication) => publication.data).sort(), [0, 1, 2, 3, 4, 5]);
      assert.deepEqual(results.map((ack) => ack.offset).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
      for (const [n, ack] of results.entries()) assert.equal(history.publications.find((publication) => publication.offset === ack.offset)?.data, n);
    } finally {
      await harness.close();
    }
  });

  it('a publish answered BROKER_UNAVAILABLE is sent again with its pid: one cut off inside the broker is acked at its first position, later ones keep their order', async () => {
    const inner = new MemoryBroker();
    let attempts = 0;
    // Attempt 1 is appended but its answer is lost (Redis died after running the script); 2-4 find the broker down.
    const broker = wrapBroker(inner, {
      publish: async (channel, data, options) => {
        attempts += 1;
        if (attempts === 1) await inner.publish(channel, data, options);
        if (attempts <= 4) throw new BrokerError(`down (attempt ${attempts})`);
        return await inner.publish(channel, data, options);
      },
    });
    const harness = await startHarness({ heartbeatIntervalMs: 0, broker });
    try {
      const client = await connected(harness.client({ random: () => 0.5 }));
      const results = await withTimeout(Promise.all(Array.from({ length: 5 }, (_, n) => client.publish('ticks', n))), TIMEOUT_MS, 'acks');
      const history = await inner.history('ticks');
      assert.deepEqual(history.publications.map((publication) => publication.data), [0, 1, 2, 3, 4], 'each once, in publish order');
      assert.deepEqual(results.map((ack) => ack.offset), [1, 2, 3, 4, 5], 'the cut-off publish is acked where it was appended');
      assert.ok(attempts >= 8, `broker attempts: ${attempts}`);
    } finally {
      await harness.close();
      await inner.close();
    }
  });

  it('recovered:false when history no longer covers the gap: delivery restarts from the reply position', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0 }, { historySize: 5 });
    try {
      const publisher = await connected(harness.client({ token: 'pub' }));
      const subscriber = await connected(harness.client({ token: 'sub' }));
      const subscription = subscriber.subscribe('ticks');
      await nextSubscribed(subscription);
      const received = collect(subscription);
      await publisher.publish('ticks', 1);
      await eventually(() => received.length === 1, 'the first tick');
      harness.blocked.add('sub');
      harness.kill('sub');
      await nextState(subscriber, ClientState.DISCONNECTED);
      for (let n = 2; n <= 12; n += 1) await publisher.publish('ticks', n);
      const resubscribed = nextSubscribed(subscription);
      harness.blocked.delete('sub');
      const info = await resubscribed;
      assert.equal(info.recovered, false);
      assert.equal(info.offset, 12);
      assert.equal(subscription.recovered, false);
      await publisher.publish('ticks', 13);
      await eventually(() => received.length === 2, 'the live tick');
      assert.deepEqual(received.map((entry) => entry.data), [1, 13], 'nothing from the lost range is delivered after recovered:false');
    } finally {
      await harness.close();
    }
  });
});
