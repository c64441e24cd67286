// MemoryBroker: the Broker contract with an injected clock, then what only the in-memory broker
// promises: delivery outside the publisher's stack, isolated listeners, every map bounded or
// expiring, a restart as a new epoch, and no timer that keeps the process alive.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { BrokerOptions, BrokerPublication, PresenceEvent } from '../../src/realtime/broker.js';
import { MemoryBroker, type MemoryBrokerOptions } from '../../src/realtime/memory-broker.js';
import { brokerContract } from './broker-contract.js';

const listenerErrors: unknown[] = [];
brokerContract('MemoryBroker', async (options: BrokerOptions) => new MemoryBroker({ ...options, onListenerError: (e) => listenerErrors.push(e) }));

/** A broker on a clock that only the test moves. */
function makeBroker(options: MemoryBrokerOptions = {}): { broker: MemoryBroker; clock: { now: number }; errors: unknown[] } {
  const clock = { now: 1_700_000_000_000 };
  const errors: unknown[] = [];
  const broker = new MemoryBroker({ sweepIntervalMs: 0, onListenerError: (e) => errors.push(e), ...options, now: () => clock.now });
  return { broker, clock, errors };
}

/** Lets queued microtasks (deliveries) run. */
const drain = () => new Promise((resolve) => setImmediate(resolve));

describe('MemoryBroker', () => {
  it('gives the same channel a different epoch in another instance (a restart loses history)', async () => {
    const [one, two] = [makeBroker().broker, makeBroker().broker];
    const [a, b] = [await one.publish('room', 1), await two.publish('room', 1)];
    assert.notEqual(a.epoch, b.epoch);
    assert.notEqual((await one.history('other')).epoch, (await two.history('other')).epoch);
    await Promise.all([one.close(), two.close()]);
  });

  it('delivers after publish() returned, never inside the publisher\'s stack', async () => {
    const { broker } = makeBroker();
    const received: BrokerPublication[] = [];
    await broker.subscribe('room', (p) => received.push(p));
    const pending = broker.publish('room', 'x');
    assert.equal(received.length, 0);
    await pending;
    await drain();
    assert.deepEqual(received.map((p) => p.offset), [1]);
    await broker.close();
  });

  it('keeps offset order for every subscriber when a subscriber publishes from its callback', async () => {
    const { broker } = makeBroker();
    const first: number[] = [];
    const second: number[] = [];
    await broker.subscribe('room', (p) => {
      first.push(p.offset);
      if (p.offset === 1) void broker.publish('room', 'echo');
    });
    await broker.subscribe('room', (p) => second.push(p.offset));
    await broker.publish('room', 'x');
    await drain();
    assert.deepEqual([first, second], [[1, 2], [1, 2]]);
    await broker.close();
  });

  it('reports what a subscriber or presence listener threw to onListenerError and goes on', async () => {
    const { broker, errors } = makeBroker();
    const fault = new Error('listener failure (expected by the test)');
    const events: PresenceEvent[] = [];
    await broker.subscribe('room', () => {
      throw fault;
    });
    await broker.subscribePresence('room', () => {
      throw fault;
    });
    await broker.subscribePresence('room', (e) => events.push(e));
    assert.equal((await broker.publish('room', 1)).offset, 1);
    await broker.join('room', { clientId: 'c1' }, 1000);
    await drain();
    assert.deepEqual(errors, [fault, fault]);
    assert.equal(events.length, 1);
    await broker.close();
  });

  it('hands out frozen publications: one object for every subscriber and history', async () => {
    const { broker } = makeBroker();
    const received: BrokerPublication[] = [];
    await broker.subscribe('room', (p) => received.push(p));
    await broker.publish('room', 'x');
    await drain();
    const [stored] = (await broker.history('room')).publications;
    assert.ok(Object.isFrozen(stored));
    assert.equal(received[0], stored);
    await broker.close();
  });

  describe('bounds', () => {
    it('keeps at most historySize publications of a channel under many publishes', async () => {
      const { broker } = makeBroker({ historySize: 100 });
      for (let k = 0; k < 10_000; k += 1) await broker.publish('busy', k);
      assert.equal(broker.stats().retainedPublications, 100);
      const history = await broker.history('busy');
      assert.deepEqual([history.publications[0]?.offset, history.publications.at(-1)?.offset, history.latestOffset], [9901, 10_000, 10_000]);
      await broker.close();
    });

    it('frees idle channels, dedup entries and presence members once they expired', async () => {
      const { broker, clock } = makeBroker({ historyTtlMs: 1000, dedupWindowMs: 2000 });
      for (let k = 0; k < 5000; k += 1) await broker.publish(`channel-${k}`, k, { pid: `client:${k}` });
      for (let k = 0; k < 1000; k += 1) await broker.join(`channel-${k}`, { clientId: `c-${k}` }, 500);
      assert.deepEqual(broker.stats(), {
        channels: 5000, retainedPublications: 5000, subscriptions: 0, dedupEntries: 5000, presenceChannels: 1000, presenceMembers: 1000,
      });
      clock.now += 600;
      await broker.members('any'); // every call expires what is due
      assert.deepEqual([broker.stats().presenceMembers, broker.stats().presenceChannels, broker.stats().channels], [0, 0, 5000]);
      clock.now += 600;
      await broker.members('any');
      assert.deepEqual([broker.stats().channels, broker.stats().retainedPublications, broker.stats().dedupEntries], [0, 0, 5000]);
      clock.now += 1000;
      await broker.members('any');
      assert.deepEqual(broker.stats(), {
        channels: 0, retainedPublications: 0, subscriptions: 0, dedupEntries: 0, presenceChannels: 0, presenceMembers: 0,
      });
      await broker.close();
    });

    it('drops expired history of a busy channel by age on access', async () => {
      const { broker, clock } = makeBroker({ historyTtlMs: 1000 });
      for (let k = 0; k < 50; k += 1) await broker.publish('room', k);
      clock.now += 1001;
      await broker.publish('room', 'fresh');
      assert.equal(broker.stats().retainedPublications, 1);
      await broker.close();
    });

    it('keeps a subscribed channel (and its epoch) past historyTtlMs; idle and unsubscribed it starts a new epoch', async () => {
      const { broker, clock } = makeBroker({ historyTtlMs: 1000 });
      const { epoch } = await broker.publish('room', 'a');
      const subscription = await broker.subscribe('room', () => undefined);
      clock.now += 5000;
      assert.deepEqual(await broker.history('room', { since: { epoch, offset: 1 } }), { epoch, latestOffset: 1, publications: [], complete: true });
      await subscription.unsubscribe();
      clock.now += 500;
      assert.equal((await broker.history('room')).epoch, epoch, 'idle for less than historyTtlMs');
      clock.now += 1000;
      await broker.members('any');
      assert.equal(broker.stats().channels, 0);
      const later = await broker.history('room', { since: { epoch, offset: 1 } });
      assert.notEqual(later.epoch, epoch);
      assert.equal(later.complete, false);
      await broker.close();
    });

    it('still knows a retried pid whose publication was trimmed from history', async () => {
      const { broker } = makeBroker({ historySize: 2 });
      const first = await broker.publish('room', 'a', { pid: 'client:1' });
      for (let k = 0; k < 5; k += 1) await broker.publish('room', k);
      assert.deepEqual(await broker.publish('room', 'a', { pid: 'client:1' }), { ...first, duplicate: true });
      assert.equal((await broker.history('room')).latestOffset, 6);
      await broker.close();
    });

    it('drops every channel, subscription, entry and member on close()', async () => {
      const { broker } = makeBroker();
      await broker.subscribe('room', () => undefined);
      await broker.publish('room', 'a', { pid: 'client:1' });
      await broker.join('room', { clientId: 'c1' }, 1000);
      await broker.close();
      assert.deepEqual(broker.stats(), {
        channels: 0, retainedPublications: 0, subscriptions: 0, dedupEntries: 0, presenceChannels: 0, presenceMembers: 0,
      });
    });
  });

  describe('timers', () => {
    it('expires a presence member with a leave event on the sweep timer, with no call at all', async () => {
      const { broker, clock } = makeBroker({ sweepIntervalMs: 5 });
      const events: PresenceEvent[] = [];
      await broker.subscribePresence('room', (e) => events.push(e));
      await broker.join('room', { clientId: 'c1' }, 100);
      clock.now += 100;
      const deadline = performance.now() + 2000;
      while (!events.some((e) => e.type === 'leave') && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(events.map((e) => e.type), ['join', 'leave']);
      await broker.close();
    });

    it('does not keep the process alive when never closed', () => {
      const moduleUrl = new URL('../../src/realtime/memory-broker.ts', import.meta.url).href;
      const script = `
        const { MemoryBroker } = await import(${JSON.stringify(moduleUrl)});
        const broker = new MemoryBroker({ sweepIntervalMs: 10 });
        await broker.subscribe('room', () => {});
        await broker.join('room', { clientId: 'c1' }, 60000);
        await broker.publish('room', 'x', { pid: 'p:1' });
        console.log('done');`;
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        encoding: 'utf8',
        timeout: 15_000,
      });
      assert.equal(child.error, undefined, 'the child exited by itself');
      assert.deepEqual([child.status, child.stdout.trim()], [0, 'done'], child.stderr);
    });
  });

  it('rejects options out of range with a RangeError', () => {
    for (const options of [{ historySize: -1 }, { historySize: 1.5 }, { historyTtlMs: 0 }, { dedupWindowMs: Number.NaN }, { sweepIntervalMs: -5 }]) {
      assert.throws(() => new MemoryBroker(options), RangeError, JSON.stringify(options));
    }
  });

  it('rejects bad history options and presence TTLs with a clear error', async () => {
    const { broker } = makeBroker();
    await assert.rejects(broker.history('room', { since: { epoch: 'e', offset: -1 } }), TypeError);
    await assert.rejects(broker.history('room', { limit: 1.5 }), TypeError);
    await assert.rejects(broker.join('room', { clientId: 'c1' }, 0), RangeError);
    await broker.close();
  });
});
