// RealtimeClient against a real RealtimeServer + MemoryBroker over real sockets (tidewire's
// WebSocket as the client's WebSocket class): acks, order, RPC both ways, presence, bounds, codecs.
// Also: client-parts (injected clock), client-reconnects, client-states, client-resume.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClientState } from '../../src/realtime/client-state.js';
import { RealtimeError, RealtimeErrorCode } from '../../src/realtime/realtime-errors.js';
import { msgpackCodec, protobufCodec } from '../../src/codecs/index.js';
import { withTimeout } from '../helpers/with-timeout.js';
import { collect, connected, eventually, type Harness, isCode, nextState, nextSubscribed, startHarness, TIMEOUT_MS } from './support/client-harness.js';

// ---- against a real RealtimeServer over real sockets ----


describe('RealtimeClient against a real RealtimeServer', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ heartbeatIntervalMs: 0 });
    harness.rt.handle('add', ({ a, b }: { a: number; b: number }) => a + b);
    harness.rt.handle('noop', () => null);
    harness.rt.handle('fail', () => {
      throw new RealtimeError('OUT_OF_STOCK', 'nothing left', { left: 0 });
    });
  });
  after(() => harness.close());

  it('publish resolves with the epoch and offset once the server acked it', async () => {
    const client = await connected(harness.client());
    const acks = await Promise.all([1, 2, 3].map((n) => client.publish('chat', { from: 'a', text: `m${n}` })));
    assert.deepEqual(acks.map((ack) => ack.offset), [1, 2, 3]);
    assert.ok(acks.every((ack) => ack.epoch === acks[0]!.epoch && ack.epoch.length > 0));
    assert.equal(client.queuedPublishes, 0);
  });

  it('a subscriber receives every publication once, in offset order', async () => {
    const publisher = await connected(harness.client());
    const subscriber = harness.client();
    const subscription = subscriber.subscribe('ticks');
    const subscribed = await nextSubscribed(subscription);
    assert.equal(subscription.isActive, true);
    const received = collect(subscription);
    const acks = await Promise.all(Array.from({ length: 50 }, (_, n) => publisher.publish('ticks', n)));
    await eventually(() => received.length === 50, '50 publications');
    assert.deepEqual(received.map((entry) => entry.data), Array.from({ length: 50 }, (_, n) => n));
    assert.deepEqual(received.map((entry) => entry.offset), acks.map((ack) => ack.offset));
    assert.deepEqual(received.map((entry) => entry.offset), Array.from({ length: 50 }, (_, n) => subscribed.offset + n + 1));
  });

  it('throws ALREADY_SUBSCRIBED and BAD_REQUEST for a second subscription or a bad channel name', async () => {
    const client = harness.client();
    client.subscribe('room');
    assert.throws(() => client.subscribe('room'), isCode(RealtimeErrorCode.ALREADY_SUBSCRIBED));
    assert.throws(() => client.subscribe('' as 'room'), isCode(RealtimeErrorCode.BAD_REQUEST));
    await assert.rejects(client.publish('a\u0000b' as 'room', 'x'), isCode(RealtimeErrorCode.BAD_REQUEST));
  });

  it('calls server methods: result, UNKNOWN_METHOD, and a handler error with its code and details', async () => {
    const client = await connected(harness.client());
    assert.equal(await client.call('add', { a: 1, b: 2 }), 3);
    const many = await Promise.all(Array.from({ length: 20 }, (_, n) => client.call('add', { a: n, b: n })));
    assert.deepEqual(many, Array.from({ length: 20 }, (_, n) => 2 * n));
    await assert.rejects(client.call('missing' as 'add', { a: 0, b: 0 }), isCode(RealtimeErrorCode.UNKNOWN_METHOD));
    await assert.rejects(client.call('fail', null), (error: unknown) => {
      assert.ok(error instanceof RealtimeError);
      assert.equal(error.code, 'OUT_OF_STOCK');
      assert.deepEqual(error.details, { left: 0 });
      return true;
    });
  });

  it('handles calls from the server; unknown methods answer UNKNOWN_METHOD', async () => {
    const client = await connected(harness.client());
    client.handle('echo', (text) => text.toUpperCase());
    assert.equal(await harness.rt.call(client.session!, 'echo', 'hi'), 'HI');
    await assert.rejects(harness.rt.call(client.session!, 'nothing'), isCode(RealtimeErrorCode.UNKNOWN_METHOD));
  });

  it('the server cancelling its call (timeout) aborts the client handler', async () => {
    const client = await connected(harness.client());
    let aborted: () => void = () => {};
    const abortedOnClient = new Promise<void>((resolve) => (aborted = resolve));
    client.handle('hang', (_params, { signal }) => new Promise<never>(() => signal.addEventListener('abort', () => aborted())));
    await assert.rejects(harness.rt.call(client.session!, 'hang', null, { timeoutMs: 50 }), isCode(RealtimeErrorCode.RPC_TIMEOUT));
    await withTimeout(abortedOnClient, TIMEOUT_MS, 'the client handler aborted');
  });

  it('call timeout rejects RPC_TIMEOUT and cancels the server handler; an AbortSignal rejects CANCELLED and cancels it', async () => {
    const aborts: string[] = [];
    harness.rt.handle('wait', (_params: null, { signal }) => new Promise<never>(() => signal.addEventListener('abort', () => aborts.push(String((signal.reason as Error | undefined)?.message ?? 'aborted')))));
    const client = await connected(harness.client());
    await assert.rejects(client.call('wait', null, { timeoutMs: 50 }), isCode(RealtimeErrorCode.RPC_TIMEOUT));
    await eventually(() => aborts.length === 1, 'the server handler aborted after the timeout');
    const controller = new AbortController();
    const call = client.call('wait', null, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(call, isCode(RealtimeErrorCode.CANCELLED));
    await eventually(() => aborts.length === 2, 'the server handler aborted after the cancel');
  });

  it('a call in flight when the connection drops rejects CONNECTION_LOST; a call made offline waits for the connection', async () => {
    const client = await connected(harness.client({ token: 'lost' }));
    const inFlight = client.call('wait', null);
    await eventually(() => harness.sockets.size > 0, 'the socket');
    harness.blocked.add('lost');
    harness.kill('lost');
    await assert.rejects(inFlight, isCode(RealtimeErrorCode.CONNECTION_LOST));
    const offline = client.call('add', { a: 2, b: 2 });
    harness.blocked.delete('lost');
    assert.equal(await offline, 4);
  });

  it('bounds pending requests, handlers and subscriptions (QUEUE_FULL at each bound)', async () => {
    const client = await connected(harness.client({ maxPendingRequests: 2, maxHandlers: 2, maxSubscriptions: 2 }));
    const waiting = [client.call('wait', null, { timeoutMs: 200 }), client.call('wait', null, { timeoutMs: 200 })];
    await assert.rejects(client.call('add', { a: 1, b: 1 }), isCode(RealtimeErrorCode.QUEUE_FULL));
    for (const call of waiting) await assert.rejects(call, isCode(RealtimeErrorCode.RPC_TIMEOUT));
    assert.equal(await client.call('add', { a: 1, b: 1 }), 2, 'room again once they settled');

    client.handle('echo', (text) => text);
    const remove = client.handle('hang', () => new Promise<never>(() => {}));
    assert.throws(() => client.handle('other' as 'echo', (text) => text), isCode(RealtimeErrorCode.QUEUE_FULL));
    client.handle('echo', (text) => `${text}!`); // replacing one is not a new entry
    remove();
    client.handle('other' as 'echo', (text) => text);

    client.subscribe('chat');
    const ticks = client.subscribe('ticks');
    assert.throws(() => client.subscribe('room'), isCode(RealtimeErrorCode.QUEUE_FULL));
    ticks.unsubscribe();
    client.subscribe('room');
  });

  it('refused subscribe and publish: the subscription emits FORBIDDEN and ends; the publish rejects FORBIDDEN', async () => {
    const guarded = await startHarness({
      heartbeatIntervalMs: 0,
      canSubscribe: (_session, channel) => channel !== 'secret',
      canPublish: (_session, channel) => channel !== 'secret',
    });
    try {
      const client = await connected(guarded.client());
      const subscription = client.subscribe('secret');
      const error = await withTimeout(new Promise<RealtimeError>((resolve) => subscription.on('error', resolve)), TIMEOUT_MS, 'error');
      assert.equal(error.code, RealtimeErrorCode.FORBIDDEN);
      assert.equal(subscription.isActive, false);
      client.subscribe('secret'); // ended, so the channel is free again
      await assert.rejects(client.publish('secret', 'x'), isCode(RealtimeErrorCode.FORBIDDEN));
      assert.equal(client.queuedPublishes, 0);
    } finally {
      await guarded.close();
    }
  });

  it('presence: members of the channel, join and leave events', async () => {
    const alice = await connected(harness.client({ token: 'alice' }));
    const aliceRoom = alice.subscribe('room', { presence: true });
    const first = await nextSubscribed(aliceRoom);
    assert.deepEqual(first.members?.map((member) => member.userId), ['alice']);
    const joined = withTimeout(new Promise((resolve) => aliceRoom.on('join', resolve)), TIMEOUT_MS, 'join');
    const bob = await connected(harness.client({ token: 'bob' }));
    const bobRoom = bob.subscribe('room', { presence: true });
    await nextSubscribed(bobRoom);
    assert.deepEqual(await joined, { clientId: bob.session, userId: 'bob' });
    const members = await aliceRoom.presence();
    assert.deepEqual(members.map((member) => member.userId).sort(), ['alice', 'bob']);
    const left = withTimeout(new Promise((resolve) => aliceRoom.on('leave', resolve)), TIMEOUT_MS, 'leave');
    bobRoom.unsubscribe();
    assert.deepEqual(await left, { clientId: bob.session, userId: 'bob' });
  });

  it('token: sent as ?token= on every attempt, a function is asked again before each one', async () => {
    let asked = 0;
    const client = await connected(harness.client({ token: async () => `t${(asked += 1)}` }));
    assert.equal(harness.rt.sessions.get(client.session!)?.userId, 't1');
    harness.kill('t1');
    await nextState(client, ClientState.CONNECTED);
    assert.equal(harness.rt.sessions.get(client.session!)?.userId, 't2');
  });
});

describe('RealtimeClient with binary codecs', () => {
  for (const codec of [msgpackCodec, protobufCodec]) {
    it(`offers tidewire.v1.${codec.name} and publishes, subscribes and calls over it`, async () => {
      const harness = await startHarness({ heartbeatIntervalMs: 0, codecs: [msgpackCodec, protobufCodec] });
      try {
        harness.rt.handle('add', ({ a, b }: { a: number; b: number }) => a + b);
        const client = await connected(harness.client({ codec }));
        const subscription = client.subscribe('chat');
        await nextSubscribed(subscription);
        const received = collect(subscription);
        const ack = await client.publish('chat', { from: 'ann', text: 'bin' });
        await eventually(() => received.length === 1, 'the publication');
        assert.deepEqual(received, [{ data: { from: 'ann', text: 'bin' }, epoch: ack.epoch, offset: ack.offset }]);
        assert.equal(await client.call('add', { a: 20, b: 22 }), 42);
      } finally {
        await harness.close();
      }
    });
  }
});
