// ChannelFeed, the per-channel ordering of RedisBroker's live delivery, without Redis: the test
// plays the pub/sub connection (receive) and answers the history reads (fill) itself, so every
// interleaving is chosen, including the bound of the queue held while a gap is filled.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChannelFeed } from '../../src/brokers/redis/channel-feed.js';
import type { BrokerHistory, BrokerPublication } from '../../src/realtime/broker.js';
import type { StreamPosition } from '../../src/realtime/envelope.js';

const EPOCH = 'e1';
const pub = (offset: number, epoch = EPOCH): BrokerPublication => ({ channel: 'room', epoch, offset, data: offset, time: 0 });
const history = (offsets: number[], complete = true, epoch = EPOCH): BrokerHistory => ({
  epoch, latestOffset: offsets.at(-1) ?? 0, publications: offsets.map((offset) => pub(offset, epoch)), complete,
});
const drain = () => new Promise((resolve) => setImmediate(resolve));

/** A feed whose history reads wait until the test answers them. */
function harness(maxPending = 100, position: StreamPosition = { epoch: EPOCH, offset: 0 }) {
  const fills: { since: StreamPosition; answer: (h: BrokerHistory) => void; fail: (e: Error) => void }[] = [];
  const errors: unknown[] = [];
  const feed = new ChannelFeed('room', {
    fill: (since) => new Promise((resolve, reject) => fills.push({ since, answer: resolve, fail: reject })),
    position: async () => position,
    maxPending,
    decode: (payload) => JSON.parse(payload.toString()) as BrokerPublication,
    onListenerError: (error) => errors.push(error),
  });
  const received: string[] = [];
  feed.add((p) => received.push(`${p.epoch === EPOCH ? '' : `${p.epoch}/`}${p.offset}`), () => received.push('gap'));
  return { feed, fills, received, errors };
}

describe('ChannelFeed', () => {
  it('delivers consecutive publications once, in order, and drops repeats', async () => {
    const { feed, received, fills } = harness();
    await feed.start();
    for (const offset of [1, 2, 2, 3, 1]) feed.receive(pub(offset));
    await drain();
    assert.deepEqual(received, ['1', '2', '3']);
    assert.equal(fills.length, 0);
  });

  it('fills a gap from history before delivering what arrived meanwhile, each once', async () => {
    const { feed, received, fills } = harness();
    await feed.start();
    feed.receive(pub(1));
    feed.receive(pub(4)); // 2 and 3 were missed
    feed.receive(pub(5));
    feed.receive(pub(3));
    await drain();
    assert.deepEqual(received, ['1']);
    assert.deepEqual(fills.map((f) => f.since), [{ epoch: EPOCH, offset: 1 }]);
    fills[0]?.answer(history([2, 3, 4]));
    await drain();
    assert.deepEqual(received, ['1', '2', '3', '4', '5']);
  });

  it('starts from the position at subscribe time, so a gap before the first publication is filled too', async () => {
    const { feed, received, fills } = harness(100, { epoch: EPOCH, offset: 7 });
    await feed.start();
    feed.receive(pub(7)); // published before the subscribe resolved
    feed.receive(pub(10));
    await drain();
    assert.deepEqual(fills.map((f) => f.since), [{ epoch: EPOCH, offset: 7 }]);
    fills[0]?.answer(history([8, 9, 10]));
    await drain();
    assert.deepEqual(received, ['8', '9', '10']);
  });

  for (const [label, answer] of [
    ['history no longer covers it', (f: { answer: (h: BrokerHistory) => void }) => f.answer(history([3, 4], false))],
    ['the epoch changed meanwhile', (f: { answer: (h: BrokerHistory) => void }) => f.answer(history([1], true, 'e2'))],
    ['the history read fails', (f: { fail: (e: Error) => void }) => f.fail(new Error('Redis down (expected by the test)'))],
  ] as const) {
    it(`reports a gap it cannot fill (${label}) and delivers across it`, async () => {
      const { feed, received, fills } = harness();
      await feed.start();
      feed.receive(pub(1));
      feed.receive(pub(4));
      feed.receive(pub(5));
      answer(fills[0]!);
      await drain();
      assert.deepEqual(received, ['1', 'gap', '4', '5']);
      assert.equal(fills.length, 1);
    });
  }

  it('delivers a new epoch as it comes (the history behind it is gone: nothing to fill)', async () => {
    const { feed, received, fills } = harness();
    await feed.start();
    feed.receive(pub(1));
    feed.receive(pub(1, 'e2'));
    feed.receive(pub(2, 'e2'));
    await drain();
    assert.deepEqual(received, ['1', 'e2/1', 'e2/2']);
    assert.equal(fills.length, 0);
  });

  it('holds at most maxPending publications during a fill: past the bound it drops them, reports a gap and starts over', async () => {
    const { feed, received, fills } = harness(3);
    await feed.start();
    feed.receive(pub(1));
    for (const offset of [5, 6, 7]) feed.receive(pub(offset)); // 3 held: the bound
    await drain();
    assert.deepEqual(received, ['1']);
    feed.receive(pub(8)); // one more: overflow
    await drain();
    assert.deepEqual(received, ['1', 'gap']);
    fills[0]?.answer(history([2, 3, 4, 5, 6, 7, 8])); // too late: ignored
    feed.receive(pub(9));
    feed.receive(pub(10));
    await drain();
    assert.deepEqual(received, ['1', 'gap', '9', '10']);
    assert.equal(fills.length, 1);
  });

  it('reports a gap after the pub/sub connection came back, and after an undecodable message', async () => {
    const { feed, received, errors } = harness();
    await feed.start();
    feed.onResubscribed();
    feed.onMessage(Buffer.from('not a publication'));
    feed.onMessage(Buffer.from(JSON.stringify(pub(1))));
    await drain();
    assert.deepEqual(received, ['gap', 'gap', '1']);
    assert.equal(errors.length, 1);
  });

  it('stops delivering to a removed subscriber and to everyone once closed', async () => {
    const { feed, received } = harness();
    await feed.start();
    const other: number[] = [];
    const remove = feed.add((p) => other.push(p.offset));
    feed.receive(pub(1));
    await drain();
    remove();
    feed.receive(pub(2));
    await drain();
    assert.deepEqual(other, [1]);
    assert.equal(feed.size, 1);
    feed.close();
    feed.receive(pub(3));
    await drain();
    assert.deepEqual(received, ['1', '2']);
  });
});
