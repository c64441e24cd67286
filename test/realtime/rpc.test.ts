// RPC over real sockets in both directions: client → server calls (many in flight, answered out of
// order and matched by id, timeouts, cancellation, coded errors, unknown methods, the in-flight
// bound) and server → client calls through RealtimeServer.call (answers, errors, timeouts, abort,
// closed sessions).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RealtimeError } from '../../src/realtime/realtime-errors.js';
import type { RpcContext } from '../../src/realtime/realtime-server.js';
import { startRealtime } from './support/envelope-client.js';

/** A promise the test resolves by hand. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

describe('client → server RPC', () => {
  test('many calls in flight are answered out of order, each matched by its id', async (t) => {
    const { rt, connect } = await startRealtime(t);
    const gates = Array.from({ length: 20 }, () => deferred());
    const started = deferred();
    let running = 0;
    rt.handle('square', async (n: number) => {
      if (++running === gates.length) started.resolve();
      await gates[n]!.promise;
      return n * n;
    });
    const client = await connect();
    const replies = gates.map((_, n) => client.request({ t: 'rpc', method: 'square', params: n }));
    await started.promise; // all twenty run at once
    const order: number[] = [];
    for (let n = gates.length - 1; n >= 0; n--) {
      gates[n]!.resolve();
      const reply = await replies[n]!;
      assert.deepEqual(reply, { t: 'result', id: n + 1, result: n * n });
      order.push(n);
    }
    assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => 19 - i));
  });

  test('the handler gets the params, the session and a signal; undefined results become null', async (t) => {
    const { rt, connect } = await startRealtime(t, { authenticate: () => ({ userId: 'ada', info: { role: 'admin' } }) });
    let seen: RpcContext | undefined;
    rt.handle('whoami', (params: unknown, context) => {
      seen = context;
      return { params, userId: context.session.userId };
    });
    rt.handle('nothing', () => undefined);
    const client = await connect();
    assert.deepEqual(await client.ok({ t: 'rpc', method: 'whoami', params: { a: [1, 2] } }), { params: { a: [1, 2] }, userId: 'ada' });
    assert.equal(seen?.session.id, client.hello.session);
    assert.deepEqual(seen?.session.info, { role: 'admin' });
    assert.equal(seen?.signal.aborted, false);
    assert.equal(await client.ok({ t: 'rpc', method: 'nothing', params: null }), null);
  });

  test('an unknown method gets UNKNOWN_METHOD', async (t) => {
    const { connect } = await startRealtime(t);
    const client = await connect();
    assert.equal(await client.fails({ t: 'rpc', method: 'nope', params: null }), 'UNKNOWN_METHOD');
  });

  test('handler errors: a RealtimeError keeps its code, message and details; others are HANDLER_ERROR', async (t) => {
    const { rt, connect } = await startRealtime(t);
    rt.handle('coded', () => {
      throw new RealtimeError('NOT_FOUND', 'no such item', { item: 3 });
    });
    rt.handle('plain', async () => {
      throw new Error('disk on fire');
    });
    rt.handle('private', () => {
      throw Object.assign(new Error('password=hunter2'), { expose: false });
    });
    const client = await connect();
    assert.deepEqual((await client.request({ t: 'rpc', method: 'coded', params: null })), {
      t: 'error', id: 1, error: { code: 'NOT_FOUND', message: 'no such item', details: { item: 3 } },
    });
    assert.deepEqual((await client.request({ t: 'rpc', method: 'plain', params: null })), { t: 'error', id: 2, error: { code: 'HANDLER_ERROR', message: 'disk on fire' } });
    assert.deepEqual((await client.request({ t: 'rpc', method: 'private', params: null })), { t: 'error', id: 3, error: { code: 'HANDLER_ERROR', message: 'Internal error' } });
  });

  test('a handler slower than its timeout is answered RPC_TIMEOUT and its signal aborts', async (t) => {
    const { rt, connect } = await startRealtime(t, { rpcTimeoutMs: 40 });
    const aborted = deferred<unknown>();
    rt.handle('forever', (_params, { signal }) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => {
      aborted.resolve(signal.reason);
      reject(new Error('aborted')); // a reaction to the abort is not a second answer
    })));
    rt.handle('quick-timeout', () => new Promise(() => {}), { timeoutMs: 10 });
    rt.handle('no-timeout', async (_params, { signal }) => {
      await new Promise((resolve) => setTimeout(resolve, 80));
      return signal.aborted;
    }, { timeoutMs: 0 });
    const client = await connect();
    const reply = await client.request({ t: 'rpc', method: 'forever', params: null });
    assert.equal(reply.t === 'error' && reply.error.code, 'RPC_TIMEOUT');
    assert.equal((await aborted.promise as RealtimeError).code, 'RPC_TIMEOUT');
    assert.equal(await client.fails({ t: 'rpc', method: 'quick-timeout', params: null }), 'RPC_TIMEOUT');
    assert.equal(await client.ok({ t: 'rpc', method: 'no-timeout', params: null }), false, 'a method may opt out of the default timeout');
    await client.roundTrip();
    assert.deepEqual(client.pending(), [], 'one answer per call');
  });

  test('a cancel aborts the handler signal and the call is answered CANCELLED', async (t) => {
    const { rt, connect } = await startRealtime(t);
    const running = deferred();
    const aborted = deferred<unknown>();
    rt.handle('long', (_params, { signal }) => {
      running.resolve();
      return new Promise((resolve) => signal.addEventListener('abort', () => (aborted.resolve(signal.reason), resolve('too late'))));
    });
    const client = await connect();
    const reply = client.requestWithId(7, { t: 'rpc', method: 'long', params: null });
    await running.promise;
    client.send({ t: 'cancel', id: 7 });
    assert.deepEqual(await reply, { t: 'error', id: 7, error: { code: 'CANCELLED', message: 'The call was cancelled by the client' } });
    assert.equal((await aborted.promise as RealtimeError).code, 'CANCELLED');
    client.send({ t: 'cancel', id: 99 }); // nothing in flight: ignored
    await client.roundTrip();
    assert.deepEqual(client.pending(), []);
  });

  test('a second call with an id still in flight gets BAD_REQUEST, the first is unaffected', async (t) => {
    const { rt, connect } = await startRealtime(t);
    const gate = deferred();
    rt.handle('wait', async () => (await gate.promise, 'done'));
    const client = await connect();
    const replies: { t: string; id: number; error?: { code: string }; result?: unknown }[] = [];
    client.ws.on('message', (data: Buffer) => replies.push(JSON.parse(data.toString())));
    client.send({ t: 'rpc', id: 5, method: 'wait', params: null });
    client.send({ t: 'rpc', id: 5, method: 'wait', params: null });
    await client.roundTrip();
    assert.deepEqual(replies.map((reply) => [reply.t, reply.id, reply.error?.code]), [['error', 5, 'BAD_REQUEST'], ['pong', undefined, undefined]]);
    gate.resolve();
    await client.roundTrip();
    assert.deepEqual(replies.slice(2, 3), [{ t: 'result', id: 5, result: 'done' }]);
  });

  test('past maxPendingRequests in flight, calls get RATE_LIMITED until one finishes', async (t) => {
    const { rt, connect } = await startRealtime(t, { limits: { maxPendingRequests: 3 } });
    const gate = deferred();
    rt.handle('wait', async () => (await gate.promise, 'ok'));
    const client = await connect();
    const held = [1, 2, 3].map(() => client.request({ t: 'rpc', method: 'wait', params: null }));
    assert.equal(await client.fails({ t: 'rpc', method: 'wait', params: null }), 'RATE_LIMITED');
    gate.resolve();
    for (const reply of await Promise.all(held)) assert.equal(reply.t, 'result');
    assert.equal(await client.ok({ t: 'rpc', method: 'wait', params: null }), 'ok');
  });
});

describe('server → client RPC', () => {
  test('rt.call sends an rpc frame and resolves with the client result', async (t) => {
    const { rt, connect } = await startRealtime(t);
    const client = await connect();
    const answer = rt.call(client.hello.session, 'confirm', { question: 'sure?' });
    const asked = await client.next('rpc');
    assert.equal(asked.method, 'confirm');
    assert.deepEqual(asked.params, { question: 'sure?' });
    client.send({ t: 'result', id: asked.id, result: { yes: true } });
    assert.deepEqual(await answer, { yes: true });
  });

  test('many server calls in flight are matched by id; an error answer rejects with its code', async (t) => {
    const { rt, connect } = await startRealtime(t);
    const client = await connect();
    const calls = [0, 1, 2, 3].map((n) => rt.call(client.hello.session, 'double', n));
    const asked = [];
    for (let i = 0; i < 4; i++) asked.push(await client.next('rpc'));
    for (const frame of asked.reverse()) {
      const n = frame.params as number;
      if (n === 2) client.send({ t: 'error', id: frame.id, error: { code: 'NO_TWO', message: 'two is not allowed' } });
      else client.send({ t: 'result', id: frame.id, result: n * 2 });
    }
    const settled = await Promise.allSettled(calls);
    assert.deepEqual(settled.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : (outcome.reason as RealtimeError).code)), [0, 2, 'NO_TWO', 6]);
  });

  test('a client that does not answer in time: RPC_TIMEOUT, and the client is sent a cancel', async (t) => {
    const { rt, connect } = await startRealtime(t, { rpcTimeoutMs: 30 });
    const client = await connect();
    await assert.rejects(rt.call(client.hello.session, 'slow', null), { name: 'RealtimeError', code: 'RPC_TIMEOUT' });
    const asked = await client.next('rpc');
    assert.deepEqual(await client.next('cancel'), { t: 'cancel', id: asked.id });
    await assert.rejects(rt.call(client.hello.session, 'slow', null, { timeoutMs: 5 }), { code: 'RPC_TIMEOUT' });
    client.send({ t: 'result', id: asked.id, result: 'late' }); // a late answer is ignored
    await client.roundTrip();
  });

  test("an aborted signal rejects with CANCELLED and cancels on the client; a closed session rejects with CLIENT_CLOSED", async (t) => {
    const { rt, connect } = await startRealtime(t);
    const client = await connect();
    const controller = new AbortController();
    const call = rt.call(client.hello.session, 'wait', null, { signal: controller.signal });
    const asked = await client.next('rpc');
    controller.abort();
    await assert.rejects(call, { code: 'CANCELLED' });
    assert.deepEqual(await client.next('cancel'), { t: 'cancel', id: asked.id });

    const pending = rt.call(client.hello.session, 'wait', null);
    await client.next('rpc');
    client.close();
    await assert.rejects(pending, { code: 'CLIENT_CLOSED' });
    await assert.rejects(rt.call(client.hello.session, 'wait', null), { code: 'CLIENT_CLOSED' });
    await assert.rejects(rt.call('no-such-session', 'wait', null), { code: 'CLIENT_CLOSED' });
  });
});
