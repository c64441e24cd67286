// What a server-side connection creates only on first use (EventTarget's tables, the ws-style
// listener table, WHATWG handlers) still behaves as the browser API and `ws` define it, and the
// server keeps no listener of its own on its connections (docs/BENCHMARKS.md, idle memory).

import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import { WebSocket } from '../../src/index.js';
import { closeOf, connectionsOf, nextEvent, within } from './support/events.js';
import { openClient, startServer } from './support/servers.js';

async function serverSideConnection(t: Parameters<typeof startServer>[0]) {
  const { wss, url } = await startServer(t, { heartbeatIntervalMs: 0 });
  const accepted = connectionsOf(wss);
  const client = await openClient(t, url);
  const { ws } = await accepted.next();
  return { wss, client, ws };
}

test('server-side connection is an EventTarget whose listeners see it as target, added after accept', async (t) => {
  const { client, ws } = await serverSideConnection(t);
  assert.ok(ws instanceof EventTarget);
  const received = within(
    new Promise<{ event: MessageEvent; currentTarget: unknown }>((resolve) =>
      ws.addEventListener('message', (event) => resolve({ event: event as MessageEvent, currentTarget: event.currentTarget }), { once: true }),
    ),
    'message event',
  );
  client.send('hello');
  const { event, currentTarget } = await received;
  assert.equal(event.data, 'hello');
  assert.equal(event.target, ws);
  assert.equal(currentTarget, ws);
});

test('server-side connection: removeEventListener before any add is harmless and dispatchEvent works', async (t) => {
  const { ws } = await serverSideConnection(t);
  ws.removeEventListener('message', () => {});
  let seen: Event | null = null;
  ws.addEventListener('custom', (event) => (seen = event));
  assert.equal(ws.dispatchEvent(new Event('custom')), true);
  assert.equal((seen as Event | null)?.target, ws);
});

test('server-side connection: events.getEventListeners works before any listener was added', async (t) => {
  const { ws } = await serverSideConnection(t);
  assert.deepEqual(getEventListeners(ws, 'message'), []);
  const listener = (): void => {};
  ws.addEventListener('message', listener);
  assert.deepEqual(getEventListeners(ws, 'message'), [listener]);
});

test('server-side connection: onmessage set after accept gets messages; readyState constants live on the prototype', async (t) => {
  const { client, ws } = await serverSideConnection(t);
  assert.equal(ws.onmessage, null);
  const got = within(new Promise<unknown>((resolve) => (ws.onmessage = (event: MessageEvent) => resolve(event.data))), 'onmessage');
  client.send('x');
  assert.equal(await got, 'x');
  assert.equal(ws.OPEN, 1);
  assert.equal(Object.hasOwn(ws, 'OPEN'), false);
  assert.equal(Object.getOwnPropertyDescriptor(WebSocket.prototype, 'CLOSED')?.value, 3);
});

test('server-side connection: ws-style listeners run with the WebSocket as this; once, off and listenerCount', async (t) => {
  const { client, ws } = await serverSideConnection(t);
  let self: unknown = null;
  const calls: string[] = [];
  const counted = (): void => void calls.push('on');
  ws.on('message', function (this: unknown) {
    self = this;
  });
  ws.once('message', () => calls.push('once'));
  ws.on('message', counted);
  assert.equal(ws.listenerCount('message'), 3);
  client.send('a');
  await nextEvent(ws, 'message');
  ws.off('message', counted);
  client.send('b');
  await nextEvent(ws, 'message');
  assert.equal(self, ws);
  assert.deepEqual(calls, ['once', 'on']);
  assert.equal(ws.listenerCount('message'), 1);
  ws.removeAllListeners('message');
  assert.equal(ws.listenerCount('message'), 0);
});

test('server-side connection: emit("error") with no listener throws, as an EventEmitter does', async (t) => {
  const { ws } = await serverSideConnection(t);
  assert.throws(() => ws.emit('error', new Error('boom')), /boom/);
  assert.equal(ws.emit('nobody-listens'), false);
});

test('server keeps no close listener of its own and drops a closed connection from clients', async (t) => {
  const { wss, client, ws } = await serverSideConnection(t);
  assert.equal(ws.listenerCount('close'), 0);
  assert.equal(wss.clients.has(ws), true);
  const closed = closeOf(ws);
  client.close(1000);
  await closed;
  assert.equal(wss.clients.has(ws), false);
});
