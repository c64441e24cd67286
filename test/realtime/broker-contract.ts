// The contract every Broker passes (DESIGN.md §2): offsets and epochs, publish-id dedup, live
// fan-out, history positions for recovery, presence, and close. Broker-agnostic: MemoryBroker runs
// it with an injected clock; a remote broker runs it against its real backend, where the cases
// that need time to pass wait in real time (a few hundred ms at most each).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Broker, BrokerOptions, BrokerPublication, PresenceEvent } from '../../src/realtime/broker.js';
import type { PresenceMember } from '../../src/realtime/envelope.js';
import { RealtimeError, RealtimeErrorCode } from '../../src/realtime/realtime-errors.js';

export interface BrokerContractExtras {
  /** The broker reads time only from options.now (default true). When false, time passes in real time. */
  honoursClock?: boolean;
  /**
   * Brokers from makeBroker share one store (e.g. one Redis): a second broker is another node, not a
   * restart. Default false: a second broker is a restart that lost all history.
   */
  sharedStore?: boolean;
  /** With sharedStore: makes the store lose all history (e.g. FLUSHDB), as a restart of the store would. */
  loseHistory?: () => Promise<void>;
  /** Runs after each case, once its brokers are closed (e.g. to delete keys). */
  cleanup?: () => Promise<void>;
  /** How long to wait for a delivery that must come (default 2000 ms); only reached on failure. */
  deliveryTimeoutMs?: number;
}

export type MakeBroker = (options: BrokerOptions) => Promise<Broker>;

const alice: PresenceMember = { clientId: 'c-alice', userId: 'alice', info: { nick: 'Alice' } };
const bob: PresenceMember = { clientId: 'c-bob' };

/** A data value the cases publish to know that everything published before it was delivered. */
const BARRIER = { barrier: true } as const;

export function brokerContract(name: string, makeBroker: MakeBroker, extras: BrokerContractExtras = {}): void {
  const honoursClock = extras.honoursClock ?? true;
  const timeoutMs = extras.deliveryTimeoutMs ?? 2000;
  const runId = randomUUID().slice(0, 8);
  let channelCount = 0;

  /** One case's world: its clock, its brokers (closed at the end), unique channel names. */
  class Harness {
    private time = 1_700_000_000_000;
    private readonly brokers: Broker[] = [];
    readonly now = (): number => this.time;

    async broker(options: BrokerOptions = {}): Promise<Broker> {
      const broker = await makeBroker(honoursClock ? { ...options, now: this.now } : options);
      this.brokers.push(broker);
      return broker;
    }

    channel(label = 'ch'): string {
      channelCount += 1;
      return `contract-${runId}-${label}-${channelCount}`;
    }

    /** Lets `ms` pass on the broker's clock: the injected one when honoured, else real time. */
    async advance(ms: number): Promise<void> {
      if (honoursClock) this.time += ms;
      else await new Promise((resolve) => setTimeout(resolve, ms));
    }

    async waitFor(what: string, predicate: () => boolean): Promise<void> {
      const deadline = performance.now() + timeoutMs;
      for (let round = 0; !predicate(); round += 1) {
        if (performance.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((resolve) => (round < 20 ? setImmediate(resolve) : setTimeout(resolve, 5)));
      }
    }

    /** Publishes a barrier and waits until every receiver got it: all earlier deliveries are done. */
    async barrier(broker: Broker, channel: string, receivers: readonly BrokerPublication[][]): Promise<number> {
      const { offset } = await broker.publish(channel, BARRIER);
      await this.waitFor(`the barrier at offset ${offset} of ${channel}`, () => receivers.every((r) => r.some((p) => p.offset === offset)));
      return offset;
    }

    async dispose(): Promise<void> {
      for (const broker of this.brokers) await broker.close().catch(() => undefined);
      await extras.cleanup?.();
    }
  }

  const test = (title: string, body: (h: Harness) => Promise<void>) =>
    it(title, async () => {
      const h = new Harness();
      try {
        await body(h);
      } finally {
        await h.dispose();
      }
    });

  describe(`${name} passes the Broker contract`, () => {
    describe('offsets and epochs', () => {
      test('offsets start at 1 and increase by one per publish, in one epoch', async (h) => {
        const broker = await h.broker();
        const channel = h.channel();
        const results = [];
        for (let k = 0; k < 3; k += 1) results.push(await broker.publish(channel, k));
        const epoch = results[0]?.epoch;
        assert.equal(typeof epoch, 'string');
        assert.notEqual(epoch, '');
        assert.deepEqual(results, [1, 2, 3].map((offset) => ({ epoch, offset, duplicate: false })));
      });

      test('offsets of different channels are independent', async (h) => {
        const broker = await h.broker();
        const [a, b] = [h.channel('a'), h.channel('b')];
        const offsets = [];
        for (const channel of [a, b, a, b, a]) offsets.push((await broker.publish(channel, channel)).offset);
        assert.deepEqual(offsets, [1, 1, 2, 2, 3]);
      });

      test('publishes awaited one after another get increasing offsets', async (h) => {
        const broker = await h.broker();
        const channel = h.channel();
        const offsets = [];
        for (let k = 0; k < 20; k += 1) offsets.push((await broker.publish(channel, k, { pid: `seq:${k}` })).offset);
        assert.deepEqual(offsets, Array.from({ length: 20 }, (_, k) => k + 1));
      });

      test('concurrent publishes get distinct consecutive offsets, each stored once', async (h) => {
        const broker = await h.broker();
        const channel = h.channel();
        const results = await Promise.all(Array.from({ length: 50 }, (_, k) => broker.publish(channel, k, { pid: `c:${k}` })));
        assert.deepEqual(results.map((r) => r.offset).sort((x, y) => x - y), Array.from({ length: 50 }, (_, k) => k + 1));
        assert.equal(new Set(results.map((r) => r.epoch)).size, 1);
        const history = await broker.history(channel);
        assert.deepEqual(history.publications.map((p) => p.offset), Array.from({ length: 50 }, (_, k) => k + 1));
        // Each publish's data sits at the offset its result named.
        for (const [k, result] of results.entries()) assert.equal(history.publications[result.offset - 1]?.data, k);
      });

      test('a channel keeps its epoch from first use on, while its history exists (trimming included)', async (h) => {
        const broker = await h.broker({ historySize: 2 });
        const channel = h.channel();
        const received: BrokerPublication[] = [];
        const before = await broker.history(channel);
        await broker.subscribe(channel, (p) => received.push(p));
        const results = [];
        for (let k = 0; k < 5; k += 1) results.push(await broker.publish(channel, k));
        await h.waitFor('5 publications', () => received.length === 5);
        const after = await broker.history(channel);
        const epochs = new Set([before.epoch, after.epoch, ...results.map((r) => r.epoch), ...received.map((p) => p.epoch)]);
        assert.deepEqual([...epochs], [before.epoch]);
        assert.deepEqual(after.publications.map((p) => p.offset), [4, 5]);
      });

      if (!extras.sharedStore) {
        test('a new broker that lost the history (a restart) gives the channel a new epoch and reports the gap', async (h) => {
          const channel = h.channel();
          const first = await h.broker();
          await first.publish(channel, 'a');
          const { epoch, offset } = await first.publish(channel, 'b');
          await first.close();
          const second = await h.broker();
          const result = await second.publish(channel, 'c');
          assert.notEqual(result.epoch, epoch);
          assert.equal(result.offset, 1);
          const history = await second.history(channel, { since: { epoch, offset } });
          assert.equal(history.complete, false);
          assert.equal(history.epoch, result.epoch);
          assert.deepEqual(history.publications.map((p) => p.data), ['c']);
        });
      } else {
        test('brokers on one store share epochs, offsets, history and live publications', async (h) => {
          const channel = h.channel();
          const [one, two] = [await h.broker(), await h.broker()];
          const received: BrokerPublication[] = [];
          await two.subscribe(channel, (p) => received.push(p));
          const a = await one.publish(channel, 'a');
          const b = await two.publish(channel, 'b');
          assert.deepEqual([a.offset, b.offset, b.epoch], [1, 2, a.epoch]);
          const barrier = await h.barrier(one, channel, [received]);
          assert.deepEqual(received.map((p) => p.offset), [1, 2, barrier]);
          assert.deepEqual((await one.history(channel)).publications.map((p) => p.data), ['a', 'b', BARRIER]);
        });
        if (extras.loseHistory !== undefined) {
          const loseHistory = extras.loseHistory;
          test('a store that lost its history gives the channel a new epoch and reports the gap', async (h) => {
            const channel = h.channel();
            const broker = await h.broker();
            const { epoch, offset } = await broker.publish(channel, 'a');
            await loseHistory();
            const result = await broker.publish(channel, 'b');
            assert.notEqual(result.epoch, epoch);
            assert.equal(result.offset, 1);
            const history = await broker.history(channel, { since: { epoch, offset } });
            assert.equal(history.complete, false);
            assert.deepEqual(history.publications.map((p) => p.data), ['b']);
          });
        }
      }
    });

    describe('publish ids', () => {
      test('a pid repeated within the window resolves with the first result, duplicate: true, and appends nothing', async (h) => {
        const broker = await h.broker({ dedupWindowMs: 60_000 });
        const channel = h.channel();
        const received: BrokerPublication[] = [];
        await broker.subscribe(channel, (p) => received.push(p));
        const first = await broker.publish(channel, 'first', { pid: 'client-a:1' });
        await broker.publish(channel, 'other', { pid: 'client-a:2' });
        await h.advance(1000);
        const repeat = await broker.publish(channel, 'retry', { pid: 'client-a:1' });
        assert.deepEqual(repeat, { epoch: first.epoch, offset: first.offset, duplicate: true });
        const history = await broker.history(channel);
        assert.deepEqual(history.publications.map((p) => [p.offset, p.data, p.pid]), [[1, 'first', 'client-a:1'], [2, 'other', 'client-a:2']]);
        assert.equal(history.latestOffset, 2);
        const barrier = await h.barrier(broker, channel, [received]);
        assert.deepEqual(received.map((p) => p.offset), [1, 2, barrier]);
      });

      test('a pid repeated concurrently, before the first publish resolved, is appended once', async (h) => {
        const broker = await h.broker();
        const channel = h.channel();
        const results = await Promise.all(Array.from({ length: 5 }, (_, k) => broker.publish(channel, k, { pid: 'client-b:7' })));
        assert.equal(results.filter((r) => !r.duplicate).length, 1);
        assert.deepEqual(new Set(results.map((r) => `${r.epoch}/${r.offset}`)).size, 1);
        const history = await broker.history(channel);
        assert.equal(history.publications.length, 1);
        assert.equal(history.latestOffset, 1);
      });

      test('a pid repeated after the window is a new publication', async (h) => {
        const broker = await h.broker({ dedupWindowMs: 200 });
        const channel = h.channel();
        const first = await broker.publish(channel, 'a', { pid: 'client-c:1' });
        await h.advance(350);
        const again = await broker.publish(channel, 'b', { pid: 'client-c:1' });
        assert.deepEqual(again, { epoch: first.epoch, offset: 2, duplicate: false });
        assert.deepEqual((await broker.history(channel)).publications.map((p) => p.data), ['a', 'b']);
      });

      test('the same pid in another channel is another publication', async (h) => {
        const broker = await h.broker();
        const [a, b] = [h.channel('a'), h.channel('b')];
        await broker.publish(a, 'x', { pid: 'client-d:1' });
        await broker.publish(b, 'y', { pid: 'client-d:0' });
        const other = await broker.publish(b, 'z', { pid: 'client-d:1' });
        assert.deepEqual([other.offset, other.duplicate], [2, false]);
      });
    });

    describe('live delivery', () => {
      test('subscribe delivers every later publication exactly once, in offset order, to every subscriber', async (h) => {
        const broker = await h.broker();
        const channel = h.channel();
        const elsewhere = h.channel('elsewhere');
        await broker.publish(channel, 'before-1');
        const { epoch } = await broker.publish(channel, 'before-2');
        const receivers: BrokerPublication[][] = [[], [], []];
        for (const received of receivers) await broker.subscribe(channel, (p) => received.push(p));
        for (let k = 0; k < 5; k += 1) await broker.publish(channel, `seq-${k}`);
        await Promise.all(Array.from({ length: 5 }, (_, k) => broker.publish(channel, `conc-${k}`)));
        await broker.publish(elsewhere, 'not for them');
        const barrier = await h.barrier(broker, channel, receivers);
        const { publications } = await broker.history(channel, { since: { epoch, offset: 2 } });
        for (const received of receivers) {
          assert.deepEqual(received.map((p) => p.offset), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, barrier]);
          assert.ok(received.every((p) => p.channel === channel && p.epoch === epoch));
          assert.deepEqual(received.map((p) => p.data), publications.map((p) => p.data));
        }
      });

      test('a publication carries channel, epoch, offset, data, pid and the broker time', async (h) => {
        const broker = await h.broker();
        const channel = h.channel();
        const received: BrokerPublication[] = [];
        await broker.subscribe(channel, (p) => received.push(p));
        const before = honoursClock ? h.now() : Date.now();
        const { epoch } = await broker.publish(channel, { text: 'hi', n: [1, 2] }, { pid: 'client-e:1' });
        await h.waitFor('one publication', () => received.length === 1);
        const [live] = received;
        const [stored] = (await broker.history(channel)).publications;
        for (const p of [live, stored]) {
          assert.ok(p !== undefined);
          assert.deepEqual([p.channel, p.epoch, p.offset, p.data, p.pid], [channel, epoch, 1, { text: 'hi', n: [1, 2] }, 'client-e:1']);
          if (honoursClock) assert.equal(p.time, before);
          else assert.ok(Math.abs(p.time - before) < 60_000, 'time is in ms since the Unix epoch');
        }
      });

      test('unsubscribe stops delivery to that subscriber only, and may be called twice', async (h) => {
        const broker = await h.broker();
        const channel = h.channel();
        const gone: BrokerPublication[] = [];
        const staying: BrokerPublication[] = [];
        const subscription = await broker.subscribe(channel, (p) => gone.push(p));
        await broker.subscribe(channel, (p) => staying.push(p));
        await broker.publish(channel, 'both');
        const first = await h.barrier(broker, channel, [gone, staying]);
        await subscription.unsubscribe();
        await subscription.unsubscribe();
        await broker.publish(channel, 'only staying');
        const second = await h.barrier(broker, channel, [staying]);
        assert.deepEqual(gone.map((p) => p.offset), [1, first]);
        assert.deepEqual(staying.map((p) => p.offset), [1, first, 3, second]);
      });

      test('a subscriber that throws breaks neither publish nor delivery to the other subscribers', async (h) => {
        const broker = await h.broker();
        const channel = h.channel();
        const before: BrokerPublication[] = [];
        const after: BrokerPublication[] = [];
        let thrown = 0;
        await broker.subscribe(channel, (p) => before.push(p));
        await broker.subscribe(channel, () => {
          thrown += 1;
          throw new Error('subscriber failure (expected by the test)');
        });
        await broker.subscribe(channel, (p) => after.push(p));
        const results = await Promise.all([broker.publish(channel, 1), broker.publish(channel, 2)]);
        await broker.publish(channel, 3);
        const barrier = await h.barrier(broker, channel, [before, after]);
        assert.deepEqual(results.map((r) => r.offset).sort((x, y) => x - y), [1, 2]);
        for (const received of [before, after]) assert.deepEqual(received.map((p) => p.offset), [1, 2, 3, barrier]);
        assert.equal(thrown, 4);
      });
    });

    describe('history', () => {
      test('history without since returns the retained publications oldest first, complete', async (h) => {
        const broker = await h.broker();
        const channel = h.channel();
        for (const data of ['a', 'b', 'c']) await broker.publish(channel, data);
        const history = await broker.history(channel);
        assert.equal(history.complete, true);
        assert.equal(history.latestOffset, 3);
        assert.deepEqual(history.publications.map((p) => [p.offset, p.data]), [[1, 'a'], [2, 'b'], [3, 'c']]);
      });

      test('history since a retained position returns what came after it, complete', async (h) => {
        const broker = await h.broker();
        const channel = h.channel();
        let epoch = '';
        for (const data of ['a', 'b', 'c']) ({ epoch } = await broker.publish(channel, data));
        const afterFirst = await broker.history(channel, { since: { epoch, offset: 1 } });
        assert.deepEqual([afterFirst.complete, afterFirst.publications.map((p) => p.offset)], [true, [2, 3]]);
        const upToDate = await broker.history(channel, { since: { epoch, offset: 3 } });
        assert.deepEqual([upToDate.complete, upToDate.publications, upToDate.latestOffset], [true, [], 3]);
      });

      test('history is incomplete when since is older than what the count bound kept', async (h) => {
        const broker = await h.broker({ historySize: 3 });
        const channel = h.channel();
        let epoch = '';
        for (let k = 1; k <= 5; k += 1) ({ epoch } = await broker.publish(channel, k));
        assert.deepEqual((await broker.history(channel)).publications.map((p) => p.offset), [3, 4, 5]);
        const gap = await broker.history(channel, { since: { epoch, offset: 1 } });
        assert.deepEqual([gap.complete, gap.publications.map((p) => p.offset), gap.latestOffset], [false, [3, 4, 5], 5]);
        const edge = await broker.history(channel, { since: { epoch, offset: 2 } });
        assert.deepEqual([edge.complete, edge.publications.map((p) => p.offset)], [true, [3, 4, 5]]);
      });

      test('history is incomplete when since is older than what the age bound kept', async (h) => {
        const broker = await h.broker({ historyTtlMs: 200 });
        const channel = h.channel();
        let epoch = '';
        for (const data of [1, 2]) ({ epoch } = await broker.publish(channel, data));
        await h.advance(150);
        for (const data of [3, 4]) await broker.publish(channel, data);
        await h.advance(150); // 1 and 2 are 300 ms old, 3 and 4 are 150 ms old
        assert.deepEqual((await broker.history(channel)).publications.map((p) => p.offset), [3, 4]);
        const gap = await broker.history(channel, { since: { epoch, offset: 1 } });
        assert.deepEqual([gap.complete, gap.publications.map((p) => p.offset), gap.epoch, gap.latestOffset], [false, [3, 4], epoch, 4]);
        const edge = await broker.history(channel, { since: { epoch, offset: 2 } });
        assert.deepEqual([edge.complete, edge.publications.map((p) => p.offset)], [true, [3, 4]]);
      });

      test('history since another epoch is incomplete and starts at the oldest retained publication', async (h) => {
        const broker = await h.broker();
        const channel = h.channel();
        let epoch = '';
        for (const data of ['a', 'b', 'c']) ({ epoch } = await broker.publish(channel, data));
        const history = await broker.history(channel, { since: { epoch: `${epoch}-other`, offset: 2 } });
        assert.deepEqual([history.complete, history.epoch, history.publications.map((p) => p.offset)], [false, epoch, [1, 2, 3]]);
      });

      test('history since an offset this epoch never reached is incomplete (treated as an epoch change)', async (h) => {
        const broker = await h.broker();
        const channel = h.channel();
        let epoch = '';
        for (const data of ['a', 'b', 'c']) ({ epoch } = await broker.publish(channel, data));
        const history = await broker.history(channel, { since: { epoch, offset: 10 } });
        assert.deepEqual([history.complete, history.latestOffset, history.publications.map((p) => p.offset)], [false, 3, [1, 2, 3]]);
      });

      test('limit keeps the newest publications and is incomplete when it cut something', async (h) => {
        const broker = await h.broker();
        const channel = h.channel();
        let epoch = '';
        for (let k = 1; k <= 5; k += 1) ({ epoch } = await broker.publish(channel, k));
        const cases: [{ epoch: string; offset: number } | undefined, number, boolean, number[]][] = [
          [undefined, 2, false, [4, 5]],
          [undefined, 10, true, [1, 2, 3, 4, 5]],
          [{ epoch, offset: 1 }, 2, false, [4, 5]],
          [{ epoch, offset: 3 }, 2, true, [4, 5]],
        ];
        for (const [since, limit, complete, offsets] of cases) {
          const history = await broker.history(channel, since === undefined ? { limit } : { since, limit });
          assert.deepEqual([history.complete, history.publications.map((p) => p.offset)], [complete, offsets], `since ${JSON.stringify(since)}, limit ${limit}`);
        }
      });

      test('an unknown channel has empty history at offset 0 and keeps that epoch for its first publish', async (h) => {
        const broker = await h.broker();
        const channel = h.channel('unknown');
        const empty = await broker.history(channel);
        assert.deepEqual([empty.publications, empty.latestOffset, empty.complete], [[], 0, true]);
        assert.equal(typeof empty.epoch, 'string');
        assert.notEqual(empty.epoch, '');
        const fromZero = await broker.history(channel, { since: { epoch: empty.epoch, offset: 0 } });
        assert.deepEqual([fromZero.epoch, fromZero.publications, fromZero.complete], [empty.epoch, [], true]);
        const first = await broker.publish(channel, 'first');
        assert.deepEqual([first.epoch, first.offset], [empty.epoch, 1]);
        const caughtUp = await broker.history(channel, { since: { epoch: empty.epoch, offset: 0 } });
        assert.deepEqual([caughtUp.complete, caughtUp.publications.map((p) => p.data)], [true, ['first']]);
      });
    });

    describe('presence', () => {
      const byClientId = (members: PresenceMember[]) => [...members].sort((x, y) => x.clientId.localeCompare(y.clientId));

      test('join adds members, members lists them per channel, leave removes one, an unknown leave is ignored', async (h) => {
        const broker = await h.broker();
        const [room, other] = [h.channel('room'), h.channel('other')];
        await broker.join(room, alice, 60_000);
        await broker.join(room, bob, 60_000);
        await broker.join(other, bob, 60_000);
        assert.deepEqual(byClientId(await broker.members(room)), [alice, bob]);
        await broker.leave(room, alice.clientId);
        await broker.leave(room, 'c-nobody');
        assert.deepEqual(await broker.members(room), [bob]);
        assert.deepEqual(await broker.members(other), [bob]);
        assert.deepEqual(await broker.members(h.channel('empty')), []);
      });

      test('subscribePresence receives join and leave events; a refreshing join sends no second join', async (h) => {
        const broker = await h.broker();
        const room = h.channel('room');
        const events: PresenceEvent[] = [];
        const subscription = await broker.subscribePresence(room, (e) => events.push(e));
        await broker.join(room, alice, 60_000);
        await broker.join(room, bob, 60_000);
        await broker.join(room, alice, 60_000);
        await broker.leave(room, alice.clientId);
        await broker.join(h.channel('elsewhere'), bob, 60_000);
        await h.waitFor('three presence events', () => events.length >= 3);
        await subscription.unsubscribe();
        await broker.leave(room, bob.clientId);
        // A second listener that stays is the barrier: the first one's events are all in by then.
        const later: PresenceEvent[] = [];
        await broker.subscribePresence(room, (e) => later.push(e));
        await broker.join(room, alice, 60_000);
        await h.waitFor('the join after unsubscribe', () => later.length === 1);
        assert.deepEqual(events, [
          { type: 'join', channel: room, member: alice },
          { type: 'join', channel: room, member: bob },
          { type: 'leave', channel: room, member: alice },
        ]);
      });

      test('a member not refreshed within ttlMs disappears with a leave event', async (h) => {
        const broker = await h.broker();
        const room = h.channel('room');
        const events: PresenceEvent[] = [];
        await broker.subscribePresence(room, (e) => events.push(e));
        await broker.join(room, alice, 300);
        await broker.join(room, bob, 300);
        await h.advance(180);
        await broker.join(room, alice, 300); // refreshed
        await h.advance(180); // bob is 360 ms old, alice's refresh 180 ms
        assert.deepEqual(await broker.members(room), [alice]);
        await h.waitFor('the leave of the expired member', () => events.some((e) => e.type === 'leave'));
        await h.advance(180);
        assert.deepEqual(await broker.members(room), []);
        await h.waitFor('the leave of the second expired member', () => events.filter((e) => e.type === 'leave').length === 2);
        assert.deepEqual(events.filter((e) => e.type === 'leave'), [
          { type: 'leave', channel: room, member: bob },
          { type: 'leave', channel: room, member: alice },
        ]);
      });
    });

    describe('close', () => {
      test('after close() every call rejects with BROKER_UNAVAILABLE; close() again and unsubscribe still resolve', async (h) => {
        const broker = await h.broker();
        const channel = h.channel();
        const subscription = await broker.subscribe(channel, () => undefined);
        const presence = await broker.subscribePresence(channel, () => undefined);
        await broker.close();
        const calls: [string, () => Promise<unknown>][] = [
          ['publish', () => broker.publish(channel, 'late', { pid: 'client-f:1' })],
          ['subscribe', () => broker.subscribe(channel, () => undefined)],
          ['history', () => broker.history(channel)],
          ['join', () => broker.join(channel, bob, 1000)],
          ['leave', () => broker.leave(channel, 'c-bob')],
          ['members', () => broker.members(channel)],
          ['subscribePresence', () => broker.subscribePresence(channel, () => undefined)],
        ];
        for (const [call, run] of calls) {
          await assert.rejects(run(), (error: unknown) => {
            assert.ok(error instanceof RealtimeError, `${call}: a RealtimeError`);
            assert.equal(error.code, RealtimeErrorCode.BROKER_UNAVAILABLE, call);
            assert.match(error.message, /closed/i, call);
            return true;
          });
        }
        await broker.close();
        await subscription.unsubscribe();
        await presence.unsubscribe();
      });
    });
  });
}
