// Recovery on (re)subscribe over real sockets (DESIGN.md §2): a subscriber coming back with
// `since` gets what it missed, then live, with no gap and no duplicate, also while a publish storm
// runs during its subscribe; recovered:false when history cannot cover the gap or the epoch
// changed; and live gaps (a broker that lost publications) caught up from history, or reported.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BrokerPublication } from '../../src/realtime/broker.js';
import type { PublicationFrame, SubscribeResult } from '../../src/realtime/envelope.js';
import { MemoryBroker } from '../../src/realtime/memory-broker.js';
import { jitter, startRealtime, wrapBroker, type EnvelopeClient } from './support/envelope-client.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Everything a subscriber saw of `channel`: the replay in its subscribe result, then live publications up to `lastOffset`. */
async function seenUpTo(client: EnvelopeClient, result: SubscribeResult, channel: string, lastOffset: number): Promise<number[]> {
  const offsets = result.publications.map((pub) => pub.offset);
  let last = offsets.at(-1) ?? result.offset;
  while (last < lastOffset) {
    const [pub] = await client.publications(channel, 1);
    offsets.push(pub!.offset);
    last = pub!.offset;
  }
  await client.roundTrip();
  offsets.push(...client.pending('pub').map((frame) => (frame as PublicationFrame).offset));
  return offsets;
}

describe('recovery on resubscribe', () => {
  test('a subscriber returning with since gets the missed publications in its result, then live ones', async (t) => {
    const { rt, connect } = await startRealtime(t);
    const first = await connect();
    const subscribed: SubscribeResult = await first.ok({ t: 'sub', channel: 'news' });
    for (const i of range(1, 3)) await rt.publish('news', `n${i}`);
    const seen = await first.publications('news', 3);
    first.ws.terminate(); // the connection drops after offset 3
    for (const i of range(4, 6)) await rt.publish('news', `n${i}`);

    const again = await connect();
    const since = { epoch: subscribed.epoch, offset: seen.at(-1)!.offset };
    const result: SubscribeResult = await again.ok({ t: 'sub', channel: 'news', since });
    assert.equal(result.recovered, true);
    assert.equal(result.offset, 6);
    assert.deepEqual(result.publications.map((pub) => [pub.offset, pub.data]), [[4, 'n4'], [5, 'n5'], [6, 'n6']]);
    assert.ok(result.publications.every((pub) => pub.t === 'pub' && pub.channel === 'news' && pub.epoch === subscribed.epoch));
    await rt.publish('news', 'n7');
    assert.deepEqual((await again.publications('news', 1)).map((pub) => pub.offset), [7]);
  });

  test('no gap and no duplicate when a publish storm runs during subscribes with and without since', async (t) => {
    const inner = new MemoryBroker();
    // History is read late and answers late, so that live publications are buffered both before
    // the read (they overlap the replay) and after it (they must follow it).
    let historyReads = 0;
    const broker = wrapBroker(inner, {
      history: async (...args) => {
        historyReads++;
        await jitter(6);
        const history = await inner.history(...args);
        await jitter(6);
        return history;
      },
    });
    const { connect } = await startRealtime(t, { broker });
    const publisher = await connect();
    const total = 400;
    let acked = 0;
    const storm = (async () => {
      const acks = [];
      for (const i of range(1, total)) {
        acks.push(publisher.ok({ t: 'pub', channel: 'storm', pid: `storm:${i}`, data: i }).then(() => acked++));
        if (i % 20 === 0) await jitter(2);
      }
      await Promise.all(acks);
    })();
    const epoch = (await inner.history('storm')).epoch;
    const subscribers: Promise<number[]>[] = [];
    for (const startAfter of [0, 40, 120, 250, 330]) {
      while (acked < startAfter) await jitter(1);
      subscribers.push(
        (async () => {
          const client = await connect();
          const withSince = startAfter % 20 === 0;
          const since = withSince ? { epoch, offset: Math.floor(startAfter / 2) } : undefined;
          const result: SubscribeResult = await client.ok({ t: 'sub', channel: 'storm', ...(since ? { since } : {}) });
          assert.equal(result.recovered, true);
          const offsets = await seenUpTo(client, result, 'storm', total);
          const from = since !== undefined ? since.offset + 1 : result.offset + 1;
          assert.deepEqual(offsets, range(from, total), `subscriber from ${since ? `since ${since.offset}` : `offset ${result.offset}`}: every offset once, in order`);
          return offsets;
        })(),
      );
    }
    await storm;
    const seen = await Promise.all(subscribers);
    assert.equal(seen.length, 5);
    assert.equal(historyReads, 5, 'one history read per subscribe: the buffered live publications filled the rest, no catch-up was needed');
    await inner.close();
  });

  test('recovered:false with no replay when history no longer covers the gap', async (t) => {
    const { rt, connect } = await startRealtime(t, { broker: new MemoryBroker({ historySize: 5 }) });
    const subscriber = await connect();
    const subscribed: SubscribeResult = await subscriber.ok({ t: 'sub', channel: 'short' });
    subscriber.ws.terminate();
    for (const i of range(1, 20)) await rt.publish('short', i);

    const again = await connect();
    const result: SubscribeResult = await again.ok({ t: 'sub', channel: 'short', since: { epoch: subscribed.epoch, offset: 2 } });
    assert.equal(result.recovered, false);
    assert.deepEqual(result.publications, [], 'the application reloads its state instead');
    assert.equal(result.offset, 20, 'live delivery goes on from here');
    await rt.publish('short', 21);
    assert.deepEqual((await again.publications('short', 1)).map((pub) => pub.offset), [21]);

    // Still covered: the last five are retained.
    const covered = await connect();
    const ok: SubscribeResult = await covered.ok({ t: 'sub', channel: 'short', since: { epoch: subscribed.epoch, offset: 16 } });
    assert.equal(ok.recovered, true);
    assert.deepEqual(ok.publications.map((pub) => pub.offset), [17, 18, 19, 20, 21]);
  });

  test('recovered:false when the epoch differs (the broker lost the channel)', async (t) => {
    const { rt, connect } = await startRealtime(t);
    await rt.publish('e', 'x');
    const client = await connect();
    const result: SubscribeResult = await client.ok({ t: 'sub', channel: 'e', since: { epoch: 'an-old-epoch', offset: 1 } });
    assert.equal(result.recovered, false);
    assert.deepEqual(result.publications, []);
    assert.equal(result.offset, 1);
    assert.notEqual(result.epoch, 'an-old-epoch');
  });
});

describe('gaps in the live stream', () => {
  /** A broker whose live stream skips the offsets in `lost` (history keeps them), and lets the test report a gap. */
  function lossyBroker(lost: Set<number>) {
    const inner = new MemoryBroker();
    const gaps: (() => void)[] = [];
    const broker = wrapBroker(inner, {
      subscribe: (channel, onPublication, onGap) => {
        if (onGap !== undefined) gaps.push(onGap);
        return inner.subscribe(channel, (publication: BrokerPublication) => {
          if (!lost.has(publication.offset)) onPublication(publication);
        });
      },
    });
    return { inner, broker, reportGap: () => gaps.forEach((gap) => gap()) };
  }

  test('an offset jump is caught up from history: the subscriber still gets every offset once, in order', async (t) => {
    const { broker, inner } = lossyBroker(new Set([3, 4, 9]));
    const { rt, connect } = await startRealtime(t, { broker });
    const client = await connect();
    await client.ok({ t: 'sub', channel: 'g' });
    for (const i of range(1, 12)) await rt.publish('g', i);
    assert.deepEqual((await client.publications('g', 12)).map((pub) => pub.offset), range(1, 12));
    await inner.close();
  });

  test("a gap the broker reports is caught up from history, even when it lost the channel's last publications", async (t) => {
    const lost = new Set([2, 3]);
    const { broker, inner, reportGap } = lossyBroker(lost);
    const { rt, connect } = await startRealtime(t, { broker });
    const client = await connect();
    await client.ok({ t: 'sub', channel: 'g' });
    for (const i of range(1, 3)) await rt.publish('g', i);
    assert.deepEqual((await client.publications('g', 1)).map((pub) => pub.offset), [1]);
    reportGap();
    assert.deepEqual((await client.publications('g', 2)).map((pub) => pub.offset), [2, 3]);
    await rt.publish('g', 4);
    assert.deepEqual((await client.publications('g', 1)).map((pub) => pub.offset), [4]);
    await inner.close();
  });

  test('a live gap history cannot cover ends the subscription with an unsubscribed frame, never silently', async (t) => {
    const { broker, inner } = lossyBroker(new Set([2, 3, 4, 5]));
    const short = wrapBroker(broker, {
      history: async (channel, options) => ({ ...(await inner.history(channel, options)), ...(options?.since ? { complete: false, publications: [] } : {}) }),
    });
    const { rt, connect } = await startRealtime(t, { broker: short });
    const client = await connect();
    await client.ok({ t: 'sub', channel: 'g' });
    for (const i of range(1, 6)) await rt.publish('g', i);
    assert.deepEqual((await client.publications('g', 1)).map((pub) => pub.offset), [1]);
    const ended = await client.next('unsubscribed');
    assert.equal(ended.channel, 'g');
    assert.equal(ended.reason.code, 'BROKER_UNAVAILABLE');
    await client.roundTrip();
    assert.deepEqual(client.pending('pub'), [], 'nothing after the gap is delivered as if it were contiguous');
    assert.equal(await client.fails({ t: 'unsub', channel: 'g' }), 'NOT_SUBSCRIBED');
    await inner.close();
  });
});
