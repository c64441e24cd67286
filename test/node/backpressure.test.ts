// Outbound backpressure over real sockets: a client that stops reading makes the server-side
// connection buffer, send() says so above the high-water mark, 'drain' follows once the client
// reads again, and past the hard bound the connection is closed with 1013 without disturbing the
// others. Send callbacks, and the per-tick batching of writes, are checked on the same path.

import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { describe, test, type TestContext } from 'node:test';
import type { WebSocket } from '../../src/index.js';
import { closeCodeOf, connectionsOf, messagesOf, nextEvent, turns, within, type Accepted, type Inbox } from './support/events.js';
import { Opcode, RawClient } from './support/raw-client.js';
import { onTeardown, openClient, startServer } from './support/servers.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const CHUNK_BYTES = 64 * KIB;
/** Loopback socket buffers hold a few MiB; nothing here should need more than this to fill them. */
const MAX_CHUNKS = 1024;

/** A 64 KiB binary message whose first 4 bytes are its index. */
function chunk(index: number): Buffer {
  const data = Buffer.alloc(CHUNK_BYTES, index & 0xff);
  data.writeUInt32BE(index, 0);
  return data;
}

interface SlowPeer {
  raw: RawClient;
  serverSide: WebSocket;
}

/** A raw client that completed the handshake and reads nothing, and the server's side of it. */
async function slowPeer(t: TestContext, port: number, connections: Inbox<Accepted>): Promise<SlowPeer> {
  const raw = await RawClient.connect(port, { paused: true });
  onTeardown(t, () => raw.destroy());
  assert.equal(raw.status, 101);
  const { ws } = await connections.next();
  return { raw, serverSide: ws };
}

/** Sends one chunk per event-loop turn until send() returns false; returns how many were sent. */
async function sendUntilBackpressure(ws: WebSocket, callbacks?: (index: number) => (error?: Error) => void): Promise<number> {
  for (let i = 0; i < MAX_CHUNKS; i++) {
    const belowHighWater = ws.send(chunk(i), callbacks?.(i));
    await turns(2); // let the batch reach the socket, so what stays buffered is what TCP refused
    if (!belowHighWater) return i + 1;
  }
  throw new Error(`send() never returned false after ${MAX_CHUNKS} chunks of ${CHUNK_BYTES} bytes`);
}

/** Reads `count` binary frames and checks that they are chunks 0..count-1 in order. */
async function expectChunks(raw: RawClient, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const frame = await raw.nextFrame();
    assert.equal(frame.opcode, Opcode.BINARY, `frame ${i}`);
    assert.equal(frame.payload.length, CHUNK_BYTES, `frame ${i}`);
    assert.equal(frame.payload.readUInt32BE(0), i, 'chunks arrive in the order they were sent');
  }
}

describe('backpressure on a client that stops reading', () => {
  test('server send returns false above highWaterMarkBytes, then drain fires once the client reads again', async (t) => {
    const highWaterMarkBytes = 256 * KIB;
    const { port, wss } = await startServer(t, { limits: { highWaterMarkBytes } });
    const connections = connectionsOf(wss);
    const { raw, serverSide } = await slowPeer(t, port, connections);

    const sent = await sendUntilBackpressure(serverSide);
    assert.ok(serverSide.bufferedAmount >= highWaterMarkBytes, `bufferedAmount ${serverSide.bufferedAmount} >= ${highWaterMarkBytes}`);
    // Still stuck after more turns: the bytes wait in the socket, not in a batch about to leave.
    await turns(5);
    assert.ok(serverSide.bufferedAmount >= highWaterMarkBytes);
    assert.equal(serverSide.send(chunk(sent)), false, 'send() keeps returning false while above the mark');

    const drained = nextEvent(serverSide, 'drain');
    raw.resumeReading();
    await drained;
    assert.ok(serverSide.bufferedAmount < highWaterMarkBytes, `bufferedAmount ${serverSide.bufferedAmount} below the mark at drain`);
    await expectChunks(raw, sent + 1);
    assert.equal(serverSide.readyState, serverSide.OPEN);
  });

  test('server closes a connection past maxBufferedBytes with 1013 while other clients carry on', async (t) => {
    const maxBufferedBytes = 2 * MIB;
    const { port, url, wss } = await startServer(t, { limits: { highWaterMarkBytes: 256 * KIB, maxBufferedBytes } });
    const connections = connectionsOf(wss);
    const { raw, serverSide } = await slowPeer(t, port, connections);
    const bystander = await openClient(t, url);
    const { ws: bystanderSide } = await connections.next();
    bystanderSide.on('message', (data: Buffer, isBinary: boolean) => bystanderSide.send(data, { binary: isBinary }));
    const bystanderInbox = messagesOf(bystander, 'bystander inbox');

    let limitError: (Error & { code?: string; limit?: string }) | undefined;
    let sent = 0;
    for (; sent < MAX_CHUNKS && serverSide.readyState === serverSide.OPEN; sent++) {
      serverSide.send(chunk(sent), (error) => {
        if (error !== undefined && limitError === undefined) limitError = error;
      });
      await turns(2);
    }
    assert.notEqual(serverSide.readyState, serverSide.OPEN, 'the slow connection is closing');
    await within(
      (async () => {
        while (limitError === undefined) await turns(1);
      })(),
      'the send callback that crossed the limit',
    );
    assert.equal(limitError?.code, 'LIMIT_EXCEEDED');
    assert.equal(limitError?.limit, 'maxBufferedBytes');

    bystander.send('still here?');
    assert.equal((await bystanderInbox.next()).data.toString(), 'still here?');
    assert.ok(wss.clients.has(bystanderSide));

    const serverSideClosed = closeCodeOf(serverSide, 'slow connection close', 8000);
    raw.resumeReading();
    const close = await raw.readUntilClose(8000);
    assert.equal(close.code, 1013);
    await raw.sendClose(1013);
    assert.equal((await serverSideClosed).code, 1013);

    bystander.send(Buffer.from('and after'));
    assert.equal((await bystanderInbox.next()).data.toString(), 'and after');
    assert.equal(bystander.readyState, bystander.OPEN);
  });

  test('server broadcast closes a consumer past maxBufferedBytes with 1013 and still reaches the others', async (t) => {
    const { port, url, wss } = await startServer(t, { limits: { highWaterMarkBytes: 256 * KIB, maxBufferedBytes: 2 * MIB } });
    const connections = connectionsOf(wss);
    const { raw, serverSide } = await slowPeer(t, port, connections);
    const fast = await openClient(t, url);
    await connections.next();
    let received = 0;
    fast.on('message', () => received++);

    let rounds = 0;
    for (; rounds < MAX_CHUNKS && serverSide.readyState === serverSide.OPEN; rounds++) {
      wss.broadcast(chunk(rounds));
      await turns(2);
    }
    assert.notEqual(serverSide.readyState, serverSide.OPEN, 'the slow consumer is closing');
    const last = wss.broadcast('after the slow one left');
    assert.equal(last, 1, 'only the fast client still receives broadcasts');
    const lastMessage = new Promise<string>((resolve) => fast.on('message', (data: Buffer, isBinary: boolean) => !isBinary && resolve(data.toString())));
    assert.equal(await within(lastMessage, 'last broadcast on the fast client'), 'after the slow one left');
    assert.equal(received, rounds + 1, 'the fast client got every broadcast');

    raw.resumeReading();
    assert.equal((await raw.readUntilClose(8000)).code, 1013);
  });
});

describe('send callbacks', () => {
  test('server send callbacks run once per message, in order, after the bytes were written', async (t) => {
    const { url, wss } = await startServer(t);
    const connections = connectionsOf(wss);
    const client = await openClient(t, url);
    const { ws: serverSide } = await connections.next();
    const inbox = messagesOf(client);
    const sizes = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? 70_000 : i % 3 === 1 ? 10 : 200));
    const remainingAfter = sizes.map((_, i) => sizes.slice(i + 1).reduce((sum, n) => sum + n + 14, 0)); // payload + at most 14 header bytes
    const calls: number[] = [];
    const violations: string[] = [];
    for (let i = 0; i < sizes.length; i++) {
      serverSide.send(Buffer.alloc(sizes[i]!, i & 0xff), (error) => {
        if (error !== undefined) violations.push(`callback ${i} got ${error.message}`);
        // Written: this message is no longer part of what is buffered.
        if (serverSide.bufferedAmount > remainingAfter[i]!) violations.push(`callback ${i} ran while ${serverSide.bufferedAmount} bytes were buffered`);
        calls.push(i);
      });
      if (i % 50 === 49) await turns(1); // some in one tick, some across ticks
    }
    const received = await inbox.take(sizes.length);
    assert.deepEqual(received.map((m) => m.data.length), sizes);
    await within(
      (async () => {
        while (calls.length < sizes.length) await turns(1);
      })(),
      'all send callbacks',
    );
    await turns(3);
    assert.deepEqual(violations, []);
    assert.deepEqual(calls, sizes.map((_, i) => i), 'each callback once, in send order');
  });

  test('server send callbacks wait while the client does not read, then all run in order', async (t) => {
    const { port, wss } = await startServer(t, { limits: { highWaterMarkBytes: 256 * KIB } });
    const connections = connectionsOf(wss);
    const { raw, serverSide } = await slowPeer(t, port, connections);
    const calls: number[] = [];
    const errors: Error[] = [];
    const sent = await sendUntilBackpressure(serverSide, (i) => (error) => {
      if (error !== undefined) errors.push(error);
      calls.push(i);
    });
    await turns(5);
    assert.ok(calls.length < sent, `${calls.length} of ${sent} callbacks ran although the client read nothing`);

    raw.resumeReading();
    await expectChunks(raw, sent);
    await within(
      (async () => {
        while (calls.length < sent) await turns(1);
      })(),
      'all send callbacks',
    );
    assert.deepEqual(calls, Array.from({ length: sent }, (_, i) => i));
    assert.deepEqual(errors, []);
  });

  test('server send callback gets an error when the connection is terminated before the write', async (t) => {
    const { url, wss } = await startServer(t);
    const connections = connectionsOf(wss);
    await openClient(t, url);
    const { ws: serverSide } = await connections.next();
    const results: (Error | undefined)[] = [];
    serverSide.send('never written', (error) => results.push(error));
    serverSide.terminate();
    await closeCodeOf(serverSide, 'server side close');
    await turns(3);
    assert.equal(results.length, 1, 'called exactly once');
    assert.equal((results[0] as { code?: string } | undefined)?.code, 'CONNECTION_CLOSED');
  });

  test('server send callbacks of unwritten messages get an error when the client disappears', async (t) => {
    const { port, wss } = await startServer(t, { limits: { highWaterMarkBytes: 256 * KIB } });
    const connections = connectionsOf(wss);
    const { raw, serverSide } = await slowPeer(t, port, connections);
    const results: { index: number; error: Error | undefined }[] = [];
    const sent = await sendUntilBackpressure(serverSide, (index) => (error) => results.push({ index, error }));
    const closed = closeCodeOf(serverSide, 'server side close');
    raw.destroy();
    assert.equal((await closed).code, 1006);
    await within(
      (async () => {
        while (results.length < sent) await turns(1);
      })(),
      'every send callback',
    );
    await turns(3);
    assert.equal(results.length, sent, 'each callback exactly once');
    assert.deepEqual(results.map((r) => r.index), Array.from({ length: sent }, (_, i) => i), 'in send order');
    const firstError = results.findIndex((r) => r.error !== undefined);
    assert.ok(firstError >= 0, 'the messages still buffered fail');
    assert.ok(results.slice(firstError).every((r) => r.error !== undefined), 'no success after the first failure');
  });
});

describe('write batching', () => {
  test('server turns 1000 sends in one tick into one socket write', async (t) => {
    const { url, wss } = await startServer(t);
    let socket: Duplex | undefined;
    wss.on('connection', (_ws: WebSocket, req) => (socket = req.socket));
    const connections = connectionsOf(wss);
    const client = await openClient(t, url);
    const { ws: serverSide } = await connections.next();
    const inbox = messagesOf(client);
    assert.ok(socket !== undefined);
    let writes = 0;
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    (socket as { write: unknown }).write = (...args: unknown[]) => {
      writes++;
      return write(...args);
    };
    for (let i = 0; i < 1000; i++) serverSide.send(`message ${i}`);
    const received = await inbox.take(1000);
    assert.equal(received[999]!.data.toString(), 'message 999');
    assert.ok(writes <= 2, `${writes} socket writes for 1000 sends in one tick`);
  });

  test('server sends of one tick arrive in very few TCP reads at a raw client', async (t) => {
    const { port, wss } = await startServer(t);
    const connections = connectionsOf(wss);
    const raw = await RawClient.connect(port);
    onTeardown(t, () => raw.destroy());
    const { ws: serverSide } = await connections.next();
    const readsBefore = raw.reads;
    for (let i = 0; i < 1000; i++) serverSide.send(`m${i}`);
    for (let i = 0; i < 1000; i++) assert.equal((await raw.nextFrame()).payload.toString(), `m${i}`);
    const reads = raw.reads - readsBefore;
    assert.ok(reads <= 5, `${reads} TCP reads for 1000 small messages sent in one tick`);
  });

  test('client sends of one tick arrive in very few TCP reads at the server', async (t) => {
    const { url, wss } = await startServer(t);
    let reads = 0;
    wss.on('connection', (_ws: WebSocket, req) => req.socket.on('data', () => reads++));
    const connections = connectionsOf(wss);
    const client = await openClient(t, url);
    const { ws: serverSide } = await connections.next();
    const inbox = messagesOf(serverSide);
    for (let i = 0; i < 1000; i++) client.send(`c${i}`);
    const received = await inbox.take(1000);
    assert.equal(received[999]!.data.toString(), 'c999');
    assert.ok(reads <= 5, `${reads} TCP reads for 1000 small messages sent in one tick`);
  });
});

describe('whenBufferedAtMost (a pacing signal finer than drain)', () => {
  test('calls back once the client has read enough, not before, and once only', async (t) => {
    const { port, wss } = await startServer(t, { limits: { highWaterMarkBytes: 256 * KIB } });
    const connections = connectionsOf(wss);
    const { raw, serverSide } = await slowPeer(t, port, connections);
    const sent = await sendUntilBackpressure(serverSide);
    const lowWater = 64 * KIB;
    assert.ok(serverSide.bufferedAmount > lowWater, `bufferedAmount ${serverSide.bufferedAmount} is above ${lowWater}`);
    const seen: number[] = [];
    serverSide.whenBufferedAtMost(lowWater, () => seen.push(serverSide.bufferedAmount));
    await turns(5);
    assert.deepEqual(seen, [], 'not while the client reads nothing');

    raw.resumeReading();
    await within(
      (async () => {
        while (seen.length === 0) await turns(1);
      })(),
      'the low-water callback',
    );
    assert.ok(seen[0]! <= lowWater, `called at bufferedAmount ${seen[0]} <= ${lowWater}`);
    await expectChunks(raw, sent);
    await turns(3);
    assert.equal(seen.length, 1, 'once');
  });

  test('calls back on the next tick when the buffer is already low enough; refuses a bad level or callback', async (t) => {
    const { port, wss } = await startServer(t);
    const connections = connectionsOf(wss);
    const { serverSide } = await slowPeer(t, port, connections);
    assert.throws(() => serverSide.whenBufferedAtMost(Number.NaN, () => {}), RangeError);
    assert.throws(() => serverSide.whenBufferedAtMost(-1, () => {}), RangeError);
    assert.throws(() => serverSide.whenBufferedAtMost(0, 'later' as unknown as () => void), TypeError);
    let called = false;
    serverSide.whenBufferedAtMost(0, () => (called = true));
    assert.equal(called, false, 'not from inside the call');
    await turns(1);
    assert.equal(called, true);
  });

  test('does not call back when the connection closes first', async (t) => {
    const { port, wss } = await startServer(t, { limits: { highWaterMarkBytes: 256 * KIB } });
    const connections = connectionsOf(wss);
    const { raw, serverSide } = await slowPeer(t, port, connections);
    await sendUntilBackpressure(serverSide);
    let called = false;
    serverSide.whenBufferedAtMost(0, () => (called = true));
    const closed = closeCodeOf(serverSide, 'server side closed');
    raw.destroy();
    await closed;
    await turns(5);
    assert.equal(called, false);
  });
});
