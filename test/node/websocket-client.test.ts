// The client WebSocket against a real server: the browser API (WHATWG WebSockets) step by step:
// readyState, URL parsing, subprotocols, binaryType, send() of every data type, close() argument
// checks, the events and the CloseEvent of every way a connection ends, plus the ws-style
// events, the handshake timeout and custom handshake headers.

import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { WebSocket, type WebSocketOptions } from '../../src/index.js';
import { closeCodeOf, closeOf, connectionsOf, Inbox, messagesOf, nextEvent, within, type Accepted } from './support/events.js';
import { unusedPort } from '../helpers/free-port.js';
import { newClient, onTeardown, openClient, startServer } from './support/servers.js';

/** A server whose connections echo every message with its type. */
async function echoServer(t: TestContext, options: Parameters<typeof startServer>[1] = {}) {
  const started = await startServer(t, options);
  const connections = connectionsOf(started.wss);
  started.wss.on('connection', (ws: WebSocket) => {
    ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
  });
  return { ...started, connections };
}

/** Records WHATWG events in order, then resolves with them and the CloseEvent once closed. */
async function eventsUntilClose(ws: WebSocket, label: string, timeoutMs?: number) {
  const order: string[] = [];
  for (const type of ['open', 'message', 'error'] as const) ws.addEventListener(type, () => order.push(type));
  const close = await closeOf(ws, label, timeoutMs);
  order.push('close');
  return { order, close };
}

describe('WebSocket client readyState and URL', () => {
  test('client readyState goes CONNECTING, OPEN, CLOSING, CLOSED', async (t) => {
    const { url } = await echoServer(t);
    const client = newClient(t, url);
    const seen: number[] = [client.readyState];
    assert.equal(client.readyState, WebSocket.CONNECTING);
    assert.equal(client.CONNECTING, 0);
    assert.deepEqual([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED], [0, 1, 2, 3]);
    const closed = closeOf(client);
    client.onopen = () => {
      seen.push(client.readyState);
      client.close();
      seen.push(client.readyState);
    };
    client.onclose = () => seen.push(client.readyState);
    await closed;
    assert.deepEqual(seen, [WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED]);
  });

  test('client url is the serialized URL, with http: and https: mapped to ws: and wss:', (t) => {
    const cases: [string | URL, string][] = [
      ['ws://127.0.0.1:1', 'ws://127.0.0.1:1/'],
      ['WS://LOCALHOST:80/a/../b?q=1', 'ws://localhost/b?q=1'],
      ['http://127.0.0.1:1/path?x=y', 'ws://127.0.0.1:1/path?x=y'],
      ['https://127.0.0.1:1/secure', 'wss://127.0.0.1:1/secure'],
      ['wss://127.0.0.1:443/', 'wss://127.0.0.1/'],
      [new URL('ws://127.0.0.1:1/from-url'), 'ws://127.0.0.1:1/from-url'],
    ];
    for (const [input, expected] of cases) {
      const ws = newClient(t, input);
      ws.on('error', () => {}); // nothing listens there; only the URL matters
      assert.equal(ws.url, expected, `url of ${String(input)}`);
      ws.terminate();
    }
  });

  test('client constructor throws SyntaxError for an invalid URL, another scheme or a fragment', () => {
    for (const input of ['not a url', 'ftp://example.com/', 'file:///tmp/x', 'ws://example.com/#frag', 'ws://example.com/#', 'javascript:alert(1)']) {
      assert.throws(() => new WebSocket(input), { name: 'SyntaxError', code: 'SYNTAX_ERROR' }, input);
    }
  });

  test('client constructor throws SyntaxError for duplicate or invalid subprotocols', () => {
    for (const protocols of [['chat', 'chat'], ['a b'], [''], ['a,b'], ['chat', 'x"y'], ['é']]) {
      assert.throws(() => new WebSocket('ws://127.0.0.1:1/', protocols), { name: 'SyntaxError' }, JSON.stringify(protocols));
    }
  });

  test('client protocol and extensions are empty until open, then what the server agreed', async (t) => {
    const { url } = await echoServer(t, { perMessageDeflate: true, handleProtocols: () => 'chat.v2' });
    const client = newClient(t, url, ['chat.v1', 'chat.v2']);
    assert.equal(client.protocol, '');
    assert.equal(client.extensions, '');
    await nextEvent(client, 'open');
    assert.equal(client.protocol, 'chat.v2');
    assert.match(client.extensions, /^permessage-deflate\b/);
  });
});

describe('WebSocket client receiving', () => {
  test('client binaryType blob, arraybuffer and nodebuffer give Blob, ArrayBuffer and Buffer', async (t) => {
    const { url } = await echoServer(t);
    const client = await openClient(t, url);
    assert.equal(client.binaryType, 'blob');
    const events = new Inbox<MessageEvent>('message events');
    client.onmessage = (event: MessageEvent) => events.push(event);
    const bytes = Buffer.from([0, 1, 2, 128, 255]);

    client.send(bytes);
    const asBlob = (await events.next()).data as unknown;
    assert.ok(asBlob instanceof Blob);
    assert.deepEqual(Buffer.from(await asBlob.arrayBuffer()), bytes);

    client.binaryType = 'arraybuffer';
    client.send(bytes);
    const asArrayBuffer = (await events.next()).data as unknown;
    assert.ok(asArrayBuffer instanceof ArrayBuffer);
    assert.ok(!Buffer.isBuffer(asArrayBuffer));
    assert.deepEqual(Buffer.from(asArrayBuffer), bytes);

    client.binaryType = 'nodebuffer';
    client.send(bytes);
    const asBuffer = (await events.next()).data as unknown;
    assert.ok(Buffer.isBuffer(asBuffer));
    assert.deepEqual(asBuffer, bytes);

    // An unknown value is ignored, as in browsers; text stays a string whatever binaryType says.
    client.binaryType = 'bogus' as never;
    assert.equal(client.binaryType, 'nodebuffer');
    client.send('text é');
    assert.equal((await events.next()).data, 'text é');
  });

  test('client ws-style message listener gets a Buffer and isBinary beside onmessage', async (t) => {
    const { url } = await echoServer(t);
    const client = await openClient(t, url);
    const inbox = messagesOf(client);
    const whatwg = new Inbox<unknown>('whatwg data');
    client.addEventListener('message', (event) => whatwg.push((event as MessageEvent).data));
    client.send('text');
    client.send(Buffer.from('bin'));
    const [text, binary] = await inbox.take(2);
    assert.ok(Buffer.isBuffer(text!.data));
    assert.deepEqual([text!.data.toString(), text!.isBinary], ['text', false]);
    assert.deepEqual([binary!.data.toString(), binary!.isBinary], ['bin', true]);
    assert.equal(await whatwg.next(), 'text');
    assert.ok((await whatwg.next()) instanceof Blob);
  });
});

describe('WebSocket client sending', () => {
  test('client send while CONNECTING throws InvalidStateError', async (t) => {
    const { url } = await echoServer(t);
    const client = newClient(t, url);
    assert.throws(() => client.send('too early'), { name: 'InvalidStateError', code: 'INVALID_STATE' });
    await nextEvent(client, 'open');
  });

  test('client sends string, Buffer, ArrayBuffer, typed array views and DataView as their exact bytes', async (t) => {
    const { url, connections } = await echoServer(t);
    const client = await openClient(t, url);
    const { ws: serverSide } = await connections.next();
    const received = messagesOf(serverSide, 'server inbox');

    const backing = new Uint8Array([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    const view = backing.subarray(3, 7); // offset 3, 4 bytes
    const u16 = new Uint16Array([0x0102, 0x0304]);
    client.send('héllo');
    client.send(Buffer.from([1, 2, 3]));
    client.send(new Uint8Array([4, 5, 6]).buffer);
    client.send(view);
    client.send(new DataView(backing.buffer, 8, 2));
    client.send(u16);

    const [text, buffer, arrayBuffer, typed, dataView, wide] = await received.take(6);
    assert.deepEqual([text!.data.toString(), text!.isBinary], ['héllo', false]);
    assert.deepEqual([buffer!.data, buffer!.isBinary], [Buffer.from([1, 2, 3]), true]);
    assert.deepEqual(arrayBuffer!.data, Buffer.from([4, 5, 6]));
    assert.deepEqual(typed!.data, Buffer.from([13, 14, 15, 16]));
    assert.deepEqual(dataView!.data, Buffer.from([18, 19]));
    assert.deepEqual(wide!.data, Buffer.from(u16.buffer));
    assert.ok([arrayBuffer, typed, dataView, wide].every((m) => m!.isBinary));
  });

  test('client send of a Blob keeps its place among the sends around it', async (t) => {
    const { url, connections } = await echoServer(t);
    const client = await openClient(t, url);
    const { ws: serverSide } = await connections.next();
    const received = messagesOf(serverSide, 'server inbox');
    client.send('first');
    client.send(new Blob(['blob ', 'second']));
    client.send('third');
    client.send(Buffer.from('fourth'));
    const messages = await received.take(4);
    assert.deepEqual(
      messages.map((m) => [m.data.toString(), m.isBinary]),
      [
        ['first', false],
        ['blob second', true],
        ['third', false],
        ['fourth', true],
      ],
    );
  });

  test('client bufferedAmount counts the application data queued by send(), not framing or control frames', async (t) => {
    const { url } = await echoServer(t);
    const client = await openClient(t, url);
    assert.equal(client.bufferedAmount, 0);
    client.send('abc');
    client.send(Buffer.alloc(200));
    // WHATWG WebSockets §bufferedAmount: "the number of bytes of application data (UTF-8 text and
    // binary data) that have been queued using send()": 3 + 200, whatever the frame headers weigh.
    assert.equal(client.bufferedAmount, 203);
    client.ping();
    assert.equal(client.bufferedAmount, 203);
  });

  test('client send after close is discarded but still counted in bufferedAmount', async (t) => {
    const { url, connections } = await echoServer(t);
    const client = await openClient(t, url);
    const { ws: serverSide } = await connections.next();
    const received = messagesOf(serverSide, 'server inbox');
    const closed = closeOf(client);
    client.close();
    assert.equal(client.readyState, WebSocket.CLOSING);
    const whileClosing = client.bufferedAmount;
    assert.equal(client.send('abc'), false);
    assert.equal(client.bufferedAmount, whileClosing + 3);
    await closed;
    const afterClose = client.bufferedAmount;
    let callbackError: unknown;
    client.send(Buffer.alloc(10), (error) => (callbackError = error));
    client.send('é');
    assert.equal(client.bufferedAmount, afterClose + 10 + 2);
    await closeCodeOf(serverSide, 'server side close');
    await within(new Promise<void>((resolve) => setImmediate(resolve)), 'a turn');
    assert.equal((callbackError as { name?: string } | undefined)?.name, 'InvalidStateError');
    assert.equal(received.size, 0);
  });

  test('client close validates code and reason: InvalidAccessError, SyntaxError', async (t) => {
    const { url, connections } = await echoServer(t);
    const client = await openClient(t, url);
    const { ws: serverSide } = await connections.next();
    for (const code of [1001, 1005, 1006, 1011, 2999, 5000, 0]) {
      assert.throws(() => client.close(code), { name: 'InvalidAccessError', code: 'INVALID_ACCESS' }, `code ${code}`);
    }
    assert.throws(() => client.close(4000, 'x'.repeat(124)), { name: 'SyntaxError' });
    assert.throws(() => client.close(4000, 'é'.repeat(62)), { name: 'SyntaxError' }, '124 UTF-8 bytes in 62 characters');
    assert.equal(client.readyState, WebSocket.OPEN, 'a rejected close() leaves the connection open');
    const serverClosed = closeCodeOf(serverSide, 'server side close');
    const closed = closeOf(client);
    client.close(4000, 'x'.repeat(123));
    assert.deepEqual(await serverClosed, { code: 4000, reason: 'x'.repeat(123) });
    const close = await closed;
    // The client's CloseEvent carries the reason of the close frame it received: the server's
    // echo, which may leave the reason out (RFC 6455 §7.1.6), so only code and cleanliness are fixed.
    assert.deepEqual([close.code, close.wasClean], [4000, true]);
  });
});

describe('WebSocket client events and CloseEvent', () => {
  test('client close while CONNECTING moves to CLOSING, then reports error and close 1006 asynchronously', async (t) => {
    const { url, wss } = await echoServer(t);
    const client = newClient(t, url);
    client.close();
    // WHATWG §close(): "fail the WebSocket connection and set this's ready state to CLOSING"; the
    // error and close events are queued as tasks, so handlers set right after close() still run.
    assert.equal(client.readyState, WebSocket.CLOSING);
    const { order, close } = await eventsUntilClose(client, 'close after aborting the handshake');
    assert.deepEqual(order, ['error', 'close']);
    assert.equal(close.code, 1006);
    assert.equal(close.wasClean, false);
    assert.equal(client.readyState, WebSocket.CLOSED);
    assert.equal(wss.clients.size, 0);
  });

  test('client onX handlers and addEventListener both fire; setting onX again replaces it', async (t) => {
    const { url } = await echoServer(t);
    const client = newClient(t, url);
    const calls: string[] = [];
    client.onopen = () => calls.push('onopen #1');
    client.onopen = () => calls.push('onopen #2');
    client.addEventListener('open', () => calls.push('listener'));
    client.onmessage = () => calls.push('onmessage (removed)');
    client.onmessage = null;
    assert.equal(client.onmessage, null);
    const messageSeen = new Promise<void>((resolve) => client.addEventListener('message', () => resolve()));
    await nextEvent(client, 'open');
    client.send('x');
    await within(messageSeen, 'message');
    assert.deepEqual(calls, ['onopen #2', 'listener']);
    assert.equal(typeof client.onopen, 'function');
  });

  test('client-initiated close gives the server the code and reason and a clean CloseEvent', async (t) => {
    const { url, connections } = await echoServer(t);
    const client = await openClient(t, url);
    const { ws: serverSide } = await connections.next();
    const serverClosed = closeCodeOf(serverSide, 'server side close');
    const closed = closeOf(client);
    client.close(1000, 'done');
    assert.deepEqual(await serverClosed, { code: 1000, reason: 'done' });
    const close = await closed;
    assert.deepEqual([close.code, close.wasClean], [1000, true]);
  });

  test('client close() without a code reports 1005 on both sides', async (t) => {
    const { url, connections } = await echoServer(t);
    const client = await openClient(t, url);
    const { ws: serverSide } = await connections.next();
    const serverClosed = closeCodeOf(serverSide, 'server side close');
    const closed = closeOf(client);
    client.close();
    assert.equal((await serverClosed).code, 1005);
    assert.deepEqual(await closed, { code: 1005, reason: '', wasClean: true });
  });

  test('server-initiated close with a reason reaches the client as a clean CloseEvent', async (t) => {
    const { url, connections } = await echoServer(t);
    const client = await openClient(t, url);
    const { ws: serverSide } = await connections.next();
    const closed = eventsUntilClose(client, 'client close');
    serverSide.close(4001, 'kicked: idle');
    const { order, close } = await closed;
    assert.deepEqual(order, ['close']);
    assert.deepEqual(close, { code: 4001, reason: 'kicked: idle', wasClean: true });
  });

  test('server terminate gives the client close 1006 with wasClean false', async (t) => {
    const { url, connections } = await echoServer(t);
    const client = await openClient(t, url);
    const { ws: serverSide } = await connections.next();
    const closed = closeOf(client);
    serverSide.terminate();
    assert.deepEqual(await closed, { code: 1006, reason: '', wasClean: false });
    assert.equal(client.readyState, WebSocket.CLOSED);
  });

  test('client to an unreachable port reports error then close 1006', async (t) => {
    const port = await unusedPort('127.0.0.1');
    const client = newClient(t, `ws://127.0.0.1:${port}/`);
    const errors: Error[] = [];
    client.on('error', (error: Error) => errors.push(error));
    const { order, close } = await eventsUntilClose(client, 'close after ECONNREFUSED');
    assert.deepEqual(order, ['error', 'close']);
    assert.equal(close.code, 1006);
    assert.equal(close.wasClean, false);
    assert.equal(errors.length, 1);
    assert.match(String((errors[0] as NodeJS.ErrnoException).code), /ECONNREFUSED/);
  });

  test('client refused with 401 reports error then close 1006', async (t) => {
    const { url } = await echoServer(t, { verifyClient: () => false });
    const client = newClient(t, url);
    const errors: Error[] = [];
    client.on('error', (error: Error) => errors.push(error));
    const { order, close } = await eventsUntilClose(client, 'close after 401');
    assert.deepEqual(order, ['error', 'close']);
    assert.equal(close.code, 1006);
    assert.equal(close.wasClean, false);
    assert.equal((errors[0] as Error & { status?: number }).status, 401);
  });

  test('client whose server accepts TCP and never answers times out: error then close 1006', async (t) => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    onTeardown(t, () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const started = Date.now();
    const client = newClient(t, `ws://127.0.0.1:${(silent.address() as AddressInfo).port}/`, undefined, { handshakeTimeoutMs: 300 });
    const errors: Error[] = [];
    client.on('error', (error: Error) => errors.push(error));
    const { order, close } = await eventsUntilClose(client, 'close after the handshake timeout', 3000);
    const elapsed = Date.now() - started;
    assert.deepEqual(order, ['error', 'close']);
    assert.equal(close.code, 1006);
    assert.match(errors[0]!.message, /timed out/);
    assert.ok(elapsed >= 250 && elapsed < 2000, `timed out after ${elapsed} ms, expected about 300`);
  });
});

describe('WebSocket client handshake request', () => {
  test('client custom headers and origin reach the server', async (t) => {
    const { url, connections } = await echoServer(t);
    const options: WebSocketOptions = { headers: { 'X-Api-Key': 'k-123', Cookie: 'session=s1' }, origin: 'https://app.example' };
    await openClient(t, `${url}?room=1`, 'chat', options);
    const { req }: Accepted = await connections.next();
    assert.equal(req.headers['x-api-key'], 'k-123');
    assert.equal(req.headers.cookie, 'session=s1');
    assert.equal(req.headers.origin, 'https://app.example');
    assert.equal(req.headers['sec-websocket-protocol'], 'chat');
    assert.equal(req.url, '/?room=1');
  });
});
