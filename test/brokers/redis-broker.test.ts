// RedisBroker against the real Redis at REDIS_URL (default redis://127.0.0.1:6379): the Broker
// contract (every case on one store, in real time), then what only Redis brings: brokers as nodes
// of one store, Redis losing its data, a killed pub/sub connection, a real outage through a TCP
// proxy we cut, a dead node's presence, and bounded keys. Each run uses its own key prefix and
// deletes its keys; the shared Redis is never flushed and only this file's connections are killed.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { RedisBroker, type RedisBrokerOptions } from '../../src/brokers/redis/index.js';
import { channelKeys } from '../../src/brokers/redis/redis-keys.js';
import type { BrokerPublication, PresenceEvent } from '../../src/realtime/broker.js';
import type { SubscribeResult } from '../../src/realtime/envelope.js';
import { RealtimeError, RealtimeErrorCode } from '../../src/realtime/realtime-errors.js';
import { requireTool } from '../helpers/external-tool.js';
import { unusedPort } from '../helpers/free-port.js';
import { brokerContract } from '../realtime/broker-contract.js';
import { startRealtime } from '../realtime/support/envelope-client.js';
import { TcpProxy } from './tcp-proxy.js';
import {
  adminClient, deleteKeys, keysUnder, killClientsNamed, REDIS_URL, redisAnswers, redisServerInstalled, startRedisServer, uniquePrefix,
} from './redis-test-support.js';

const HOW = `start redis-server on ${REDIS_URL} (apt-get install redis-server), or set REDIS_URL`;
const available = await redisAnswers();

if (!available) {
  describe('RedisBroker', () => {
    it('runs against a real Redis', async (t) => {
      await requireTool(t, 'Redis', () => false, HOW);
    });
  });
} else {
  const admin = adminClient();
  after(() => admin.quit());

  const contractPrefix = uniquePrefix('contract');
  const listenerErrors: unknown[] = [];
  brokerContract(
    'RedisBroker',
    async (options) => new RedisBroker({
      ...options, url: REDIS_URL, keyPrefix: contractPrefix, sweepIntervalMs: 50, onListenerError: (e) => listenerErrors.push(e), onConnectionError: () => undefined,
    }),
    {
      honoursClock: false,
      sharedStore: true,
      loseHistory: async () => void (await deleteKeys(admin, contractPrefix)),
      cleanup: async () => void (await deleteKeys(admin, contractPrefix)),
      deliveryTimeoutMs: 3000,
    },
  );

  describe('RedisBroker on a real Redis', () => {
    /** A broker on `prefix`, closed (and the prefix's keys deleted) after the test. */
    const open = (t: TestContext, prefix: string, options: RedisBrokerOptions = {}): RedisBroker => {
      const broker = new RedisBroker({ url: REDIS_URL, keyPrefix: prefix, onConnectionError: () => undefined, ...options });
      t.after(async () => {
        await broker.close();
        await deleteKeys(admin, prefix);
      });
      return broker;
    };

    it('two brokers on one Redis are two nodes: shared offsets, live delivery, history and presence', async (t) => {
      const prefix = uniquePrefix('nodes');
      const [one, two] = [open(t, prefix), open(t, prefix)];
      const received: BrokerPublication[] = [];
      const events: PresenceEvent[] = [];
      await two.subscribe('room', (p) => received.push(p));
      await two.subscribePresence('room', (e) => events.push(e));
      const results = await Promise.all(Array.from({ length: 40 }, (_, k) => (k % 2 === 0 ? one : two).publish('room', k, { pid: `p:${k}` })));
      assert.deepEqual(results.map((r) => r.offset).sort((x, y) => x - y), Array.from({ length: 40 }, (_, k) => k + 1));
      await waitUntil('40 live publications on the other node', () => received.length === 40);
      assert.deepEqual(received.map((p) => p.offset), Array.from({ length: 40 }, (_, k) => k + 1));
      const history = await one.history('room');
      assert.deepEqual(history.publications.map((p) => [p.offset, p.data]), received.map((p) => [p.offset, p.data]));
      // A retried publish on the other node finds the first result.
      assert.deepEqual(await one.publish('room', 'again', { pid: 'p:1' }), { ...results[1], duplicate: true });
      await one.join('room', { clientId: 'c1', userId: 'u1' }, 60_000);
      assert.deepEqual(await two.members('room'), [{ clientId: 'c1', userId: 'u1' }]);
      await waitUntil('the join on the other node', () => events.length === 1);
      assert.deepEqual(events, [{ type: 'join', channel: 'room', member: { clientId: 'c1', userId: 'u1' } }]);
    });

    it('Redis losing its data (restarted without persistence) gives the channel a new epoch: history says incomplete', async (t) => {
      const prefix = uniquePrefix('lost');
      const [one, two] = [open(t, prefix), open(t, prefix)];
      const received: BrokerPublication[] = [];
      await two.subscribe('room', (p) => received.push(p));
      await one.publish('room', 'a');
      const before = await one.publish('room', 'b', { pid: 'p:1' });
      assert.ok((await deleteKeys(admin, prefix)) > 0);
      const afterLoss = await one.publish('room', 'c', { pid: 'p:1' }); // the dedup memory went too
      assert.notEqual(afterLoss.epoch, before.epoch);
      assert.deepEqual([afterLoss.offset, afterLoss.duplicate], [1, false]);
      const history = await two.history('room', { since: { epoch: before.epoch, offset: before.offset } });
      assert.deepEqual([history.epoch, history.complete, history.publications.map((p) => p.data)], [afterLoss.epoch, false, ['c']]);
      await waitUntil('3 live publications', () => received.length === 3);
      assert.deepEqual(received.map((p) => `${p.epoch === before.epoch ? 'old' : 'new'}/${p.offset}`), ['old/1', 'old/2', 'new/1']);
    });

    it('a killed pub/sub connection comes back: onGap is called and the publications it missed are delivered in order', async (t) => {
      const prefix = uniquePrefix('killed');
      const name = `tidewire-test-${randomUUID().slice(0, 8)}`;
      // A slow reconnect, so that the publications below surely fall into the gap.
      const node = open(t, prefix, { redis: { connectionName: name, retryStrategy: () => 300 } });
      const other = open(t, prefix);
      const offsets: number[] = [];
      let gaps = 0;
      await node.subscribe('room', (p) => offsets.push(p.offset), () => (gaps += 1));
      await other.publish('room', 1);
      await waitUntil('the first publication', () => offsets.length === 1);
      assert.equal(await killClientsNamed(admin, `${name}-subscriber`), 1);
      await other.publish('room', 2);
      await other.publish('room', 3);
      await waitUntil('onGap after the resubscribe', () => gaps === 1);
      assert.deepEqual(offsets, [1]);
      await other.publish('room', 4);
      await waitUntil('the missed publications and the next one', () => offsets.length === 4);
      assert.deepEqual(offsets, [1, 2, 3, 4]);
      assert.equal((await node.publish('room', 5)).offset, 5, 'the command connection was not affected');
    });

    it('presence events missed while the pub/sub connection was down are made up once it is back, each once', async (t) => {
      const prefix = uniquePrefix('presence-gap');
      const name = `tidewire-test-${randomUUID().slice(0, 8)}`;
      const node = open(t, prefix, { redis: { connectionName: name, retryStrategy: () => 300 } });
      const other = open(t, prefix);
      await other.join('room', { clientId: 'stays' }, 60_000);
      await other.join('room', { clientId: 'leaves' }, 60_000);
      const events: string[] = [];
      await node.subscribePresence('room', (event) => events.push(`${event.type} ${event.member.clientId}`));
      await other.join('room', { clientId: 'before' }, 60_000);
      await waitUntil('the live join', () => events.length === 1);
      assert.deepEqual(events, ['join before'], 'members present at subscribe time are not announced');

      assert.equal(await killClientsNamed(admin, `${name}-subscriber`), 1);
      await other.join('room', { clientId: 'during' }, 60_000);
      await other.leave('room', 'leaves');
      await waitUntil('the made-up join and leave after the resubscribe', () => events.length === 3);
      assert.deepEqual(events.slice(1).sort(), ['join during', 'leave leaves']);

      await other.join('room', { clientId: 'after' }, 60_000);
      await other.leave('room', 'stays');
      await waitUntil('live events again', () => events.length === 5);
      assert.deepEqual(events.slice(3), ['join after', 'leave stays']);
      assert.deepEqual((await node.members('room')).map((m) => m.clientId).sort(), ['after', 'before', 'during']);
    });

    it('during a Redis outage calls fail fast with BROKER_UNAVAILABLE; afterwards subscriptions resume with onGap and nothing missed', async (t) => {
      const prefix = uniquePrefix('outage');
      const proxy = await TcpProxy.start(redisPort(), redisHost());
      t.after(() => proxy.close());
      // Slow, unequal backoffs: one connection comes back first and brings the other along.
      const node = open(t, prefix, { url: proxiedUrl(proxy.port), redis: { retryStrategy: () => 300 + Math.random() * 700 } });
      const other = open(t, prefix);
      const received: BrokerPublication[] = [];
      const gapReads: Promise<string>[] = [];
      let gaps = 0;
      await node.subscribe('room', (p) => received.push(p), () => {
        gaps += 1;
        // What a server does on a gap: read history. The command connection must be back by then.
        gapReads.push(node.history('room').then(() => 'read', (error: RealtimeError) => error.code));
      });
      await node.publish('room', 'before');
      proxy.cut();
      await waitUntil('the broker to notice the outage', async () => (await node.history('room').then(() => false, () => true)));
      const calls: [string, () => Promise<unknown>][] = [
        ['publish', () => node.publish('room', 'lost?', { pid: 'p:1' })],
        ['subscribe', () => node.subscribe('elsewhere', () => undefined)],
        ['history', () => node.history('room')],
        ['join', () => node.join('room', { clientId: 'c1' }, 1000)],
        ['members', () => node.members('room')],
      ];
      for (const [call, run] of calls) {
        const started = performance.now();
        await assert.rejects(run(), (error: unknown) => {
          assert.ok(error instanceof RealtimeError, call);
          assert.equal(error.code, RealtimeErrorCode.BROKER_UNAVAILABLE, call);
          return true;
        });
        assert.ok(performance.now() - started < 200, `${call} failed fast`);
      }
      await other.publish('room', 'during-1');
      await other.publish('room', 'during-2');
      proxy.restore();
      await waitUntil('onGap once the pub/sub connection is back', () => gaps === 1);
      assert.deepEqual(await Promise.all(gapReads), ['read']);
      await waitUntil('a publish through the restored connection', async () => (await node.publish('room', 'after').then(() => true, () => false)));
      await waitUntil('every publication', () => received.at(-1)?.data === 'after');
      assert.deepEqual(received.map((p) => p.data), ['before', 'during-1', 'during-2', 'after']);
      assert.deepEqual(received.map((p) => p.offset), [1, 2, 3, 4]);
    });

    it('publishes in flight when the connection breaks settle promptly, and once it is back each one is known: resolved and in history, or rejected and absent', async (t) => {
      const prefix = uniquePrefix('inflight');
      const proxy = await TcpProxy.start(redisPort(), redisHost());
      t.after(() => proxy.close());
      const node = open(t, prefix, { url: proxiedUrl(proxy.port) });
      const other = open(t, prefix);
      await node.ready();
      const publishes = Array.from({ length: 300 }, (_, k) => node.publish('room', k, { pid: `p:${k}` }));
      setImmediate(() => {
        proxy.cut();
        setTimeout(() => proxy.restore(), 100);
      });
      const started = performance.now();
      const settled = await Promise.allSettled(publishes);
      assert.ok(performance.now() - started < 3000, 'settled within the command timeout');
      const history = await other.history('room');
      const stored = new Map(history.publications.map((p) => [p.data, p.offset]));
      for (const [k, outcome] of settled.entries()) {
        if (outcome.status === 'fulfilled') assert.equal(stored.get(k), outcome.value.offset, `resolved publish ${k} is in history at its offset`);
        else {
          assert.equal((outcome.reason as RealtimeError).code, RealtimeErrorCode.BROKER_UNAVAILABLE);
          assert.ok(!stored.has(k), `rejected publish ${k} is not in history`);
        }
      }
      assert.ok(settled.some((outcome) => outcome.status === 'rejected'), 'the cut hit some publishes');
    });

    it('publishes that ran in Redis but whose replies were lost resolve with their offsets once the connection is back, not with a false BROKER_UNAVAILABLE', async (t) => {
      const prefix = uniquePrefix('lost-replies');
      const proxy = await TcpProxy.start(redisPort(), redisHost());
      t.after(() => proxy.close());
      const node = open(t, prefix, { url: proxiedUrl(proxy.port) });
      const other = open(t, prefix);
      await node.ready();
      proxy.muteReplies();
      const publishes = Array.from({ length: 20 }, (_, k) => node.publish('room', k, { pid: `p:${k}` }));
      await waitUntil('Redis to run the 20 publishes', async () => (await other.history('room')).latestOffset === 20);
      proxy.cut();
      setTimeout(() => proxy.restore(), 100);
      const results = await Promise.all(publishes);
      assert.deepEqual(results.map((r) => r.offset), Array.from({ length: 20 }, (_, k) => k + 1));
      const noPid = node.publish('room', 'x'); // without a pid an in-doubt publish can only be rejected
      proxy.muteReplies();
      await waitUntil('Redis to run it', async () => (await other.history('room')).latestOffset === 21);
      proxy.cut();
      await assert.rejects(noPid, isUnavailable);
      proxy.restore();
    });

    it("a node that died without leaving: its members expire after their TTL, with leave events on the other nodes", async (t) => {
      const prefix = uniquePrefix('presence');
      const dying = open(t, prefix);
      const watcher = open(t, prefix, { sweepIntervalMs: 50 });
      const events: PresenceEvent[] = [];
      await watcher.subscribePresence('room', (e) => events.push(e));
      await dying.join('room', { clientId: 'c-dying' }, 400);
      await watcher.join('room', { clientId: 'c-staying' }, 60_000);
      await dying.close(); // no leave
      assert.deepEqual((await watcher.members('room')).map((m) => m.clientId).sort(), ['c-dying', 'c-staying']);
      await waitUntil('the leave of the dead node\'s member', () => events.some((e) => e.type === 'leave'));
      assert.deepEqual(events.map((e) => `${e.type} ${e.member.clientId}`), ['join c-dying', 'join c-staying', 'leave c-dying']);
      assert.deepEqual(await watcher.members('room'), [{ clientId: 'c-staying' }]);
    });

    it('keeps Redis bounded: every key expires, the stream holds about historySize entries, the last unsubscribe ends the topic', async (t) => {
      const prefix = uniquePrefix('bounds');
      const broker = open(t, prefix, { historySize: 5, historyTtlMs: 60_000, dedupWindowMs: 30_000 });
      for (let k = 1; k <= 300; k += 1) await broker.publish('room', k, { pid: `p:${k}` });
      await broker.join('room', { clientId: 'c1' }, 10_000);
      const keys = await keysUnder(admin, prefix);
      assert.equal(keys.length, 2 + 300 + 2, 'meta, stream, one dedup key per pid, presence hash and sorted set');
      for (const key of keys) assert.ok((await admin.pttl(key)) > 0, `${key} expires`);
      const room = channelKeys(prefix, 'room');
      assert.ok((await admin.xlen(room.stream)) <= 5 + 100, 'MAXLEN ~ trims whole stream nodes (100 entries each by default)');
      const history = await broker.history('room');
      assert.deepEqual([history.publications.map((p) => p.offset), history.latestOffset], [[296, 297, 298, 299, 300], 300]);
      const subscription = await broker.subscribe('room', () => undefined);
      assert.deepEqual(await admin.pubsub('NUMSUB', room.publicationTopic), [room.publicationTopic, 1]);
      await subscription.unsubscribe();
      assert.deepEqual(await admin.pubsub('NUMSUB', room.publicationTopic), [room.publicationTopic, 0]);
      assert.deepEqual(broker.stats(), { channels: 0, presenceChannels: 0, topics: 0 });
    });

    it('a subscribed channel keeps its epoch while idle past historyTtlMs; an unsubscribed idle one starts a new epoch', async (t) => {
      const prefix = uniquePrefix('idle');
      const broker = open(t, prefix, { historyTtlMs: 300 });
      const kept = await broker.publish('kept', 'a');
      const dropped = await broker.publish('dropped', 'a');
      await broker.subscribe('kept', () => undefined);
      await new Promise((resolve) => setTimeout(resolve, 800));
      const keptHistory = await broker.history('kept', { since: { epoch: kept.epoch, offset: 1 } });
      assert.deepEqual([keptHistory.epoch, keptHistory.complete, keptHistory.latestOffset], [kept.epoch, true, 1]);
      const droppedHistory = await broker.history('dropped', { since: { epoch: dropped.epoch, offset: 1 } });
      assert.notEqual(droppedHistory.epoch, dropped.epoch);
      assert.equal(droppedHistory.complete, false);
    });

    it('reloads its scripts when Redis forgot them (SCRIPT FLUSH, as after a restart)', async (t) => {
      const broker = open(t, uniquePrefix('scripts'));
      await broker.publish('room', 'a');
      await admin.script('FLUSH');
      assert.equal((await broker.publish('room', 'b')).offset, 2);
      assert.equal((await broker.history('room')).latestOffset, 2);
    });

    it('started while Redis does not answer: calls wait for readyTimeoutMs at most, then fail at once with BROKER_UNAVAILABLE', async (t) => {
      const broker = open(t, uniquePrefix('down'), { url: `redis://127.0.0.1:${await unusedPort('127.0.0.1')}`, readyTimeoutMs: 300 });
      const started = performance.now();
      await assert.rejects(broker.ready(), isUnavailable);
      await assert.rejects(broker.publish('room', 'a'), isUnavailable);
      const waited = performance.now() - started;
      assert.ok(waited >= 250 && waited < 1000, `waited ${waited} ms`);
      const later = performance.now();
      await assert.rejects(broker.subscribe('room', () => undefined), isUnavailable);
      assert.ok(performance.now() - later < 50, 'after the start window: at once');
    });

    it('works over connections the application passes in, and leaves them open on close()', async (t) => {
      const prefix = uniquePrefix('given');
      const client = new Redis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
      t.after(() => client.quit());
      const broker = new RedisBroker({ client, keyPrefix: prefix, onConnectionError: () => undefined });
      t.after(() => deleteKeys(admin, prefix));
      const received: number[] = [];
      await broker.subscribe('room', (p) => received.push(p.offset));
      await broker.publish('room', 'a');
      await waitUntil('the publication', () => received.length === 1);
      await broker.close();
      assert.equal(client.status, 'ready');
      assert.equal(await client.ping(), 'PONG');
    });

    it('a real Redis restart without persistence: publishes fail while it is down, then onGap, a new epoch and incomplete history', async (t) => {
      if (!(await requireTool(t, 'redis-server', redisServerInstalled, 'apt-get install redis-server, or set REDIS_SERVER'))) return;
      const port = await unusedPort('127.0.0.1');
      let redis = await startRedisServer(port);
      t.after(() => redis.stop());
      const broker = open(t, uniquePrefix('restart'), { url: `redis://127.0.0.1:${port}`, redis: { retryStrategy: () => 50 } });
      const received: BrokerPublication[] = [];
      let gaps = 0;
      await broker.subscribe('room', (p) => received.push(p), () => (gaps += 1));
      const before = await broker.publish('room', 'a', { pid: 'p:1' });
      await waitUntil('the first publication', () => received.length === 1);
      await redis.stop();
      await waitUntil('publishes to fail', async () => (await broker.publish('room', 'x').then(() => false, isUnavailable)));
      redis = await startRedisServer(port);
      await waitUntil('onGap after the restart', () => gaps === 1);
      const afterRestart = await broker.publish('room', 'b', { pid: 'p:1' });
      assert.notEqual(afterRestart.epoch, before.epoch);
      assert.deepEqual([afterRestart.offset, afterRestart.duplicate], [1, false]);
      const history = await broker.history('room', { since: { epoch: before.epoch, offset: before.offset } });
      assert.deepEqual([history.complete, history.epoch, history.publications.map((p) => p.data)], [false, afterRestart.epoch, ['b']]);
      await waitUntil('the publication of the new epoch', () => received.length === 2);
      assert.deepEqual(received.map((p) => [p.epoch === before.epoch, p.offset, p.data]), [[true, 1, 'a'], [false, 1, 'b']]);
    });

    it('two RealtimeServers on one Redis: a client of one node gets the other node\'s publications, and recovers on that node after a drop', async (t) => {
      const prefix = uniquePrefix('servers');
      const [nodeA, nodeB] = [await startRealtime(t, { broker: open(t, prefix) }), await startRealtime(t, { broker: open(t, prefix) })];
      const first = await nodeA.connect();
      const subscribed: SubscribeResult = await first.ok({ t: 'sub', channel: 'news' });
      await nodeB.rt.publish('news', 'n1');
      await nodeB.rt.publish('news', 'n2');
      const seen = await first.publications('news', 2);
      assert.deepEqual(seen.map((p) => [p.offset, p.data]), [[1, 'n1'], [2, 'n2']]);
      first.ws.terminate(); // node A's client drops …
      await nodeA.rt.publish('news', 'n3');
      await nodeB.rt.publish('news', 'n4');
      const again = await nodeB.connect(); // … and comes back through node B
      const result: SubscribeResult = await again.ok({ t: 'sub', channel: 'news', since: { epoch: subscribed.epoch, offset: 2 } });
      assert.deepEqual([result.recovered, result.epoch, result.publications.map((p) => p.data)], [true, subscribed.epoch, ['n3', 'n4']]);
      await nodeA.rt.publish('news', 'n5');
      assert.deepEqual((await again.publications('news', 1)).map((p) => [p.offset, p.data]), [[5, 'n5']]);
    });

    it('channels whose names differ only in braces, percent signs or colons have keys of their own', async (t) => {
      const prefix = uniquePrefix('names');
      const broker = open(t, prefix);
      const names = ['x', 'x}', '{x}', 'x%7D', 'x}:meta', 'x:pid:1', 'ü{🌊}'];
      for (const name of names) assert.equal((await broker.publish(name, name, { pid: '1' })).offset, 1, name);
      for (const name of names) assert.deepEqual((await broker.history(name)).publications.map((p) => p.data), [name]);
    });
  });
}

function isUnavailable(error: unknown): boolean {
  assert.ok(error instanceof RealtimeError);
  assert.equal(error.code, RealtimeErrorCode.BROKER_UNAVAILABLE);
  return true;
}

async function waitUntil(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 4000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await predicate())) {
    if (performance.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function redisHost(): string {
  return new URL(REDIS_URL).hostname || '127.0.0.1';
}

function redisPort(): number {
  return Number(new URL(REDIS_URL).port || 6379);
}

/** REDIS_URL (credentials, database) with the proxy's address instead of Redis's. */
function proxiedUrl(port: number): string {
  const url = new URL(REDIS_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}
