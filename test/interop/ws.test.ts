// Interop with the `ws` package over real sockets: tidewire's client against a ws server and a ws
// client against tidewire's server, each with text, binary, 1 MiB, fragments, permessage-deflate
// (checked on the wire by byte counts), a subprotocol, close codes both ways and ping/pong.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { WebSocket as WsSocket, WebSocketServer as WsServer } from 'ws';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { AsyncQueue } from './async-queue.js';
import {
  COMPRESSED_BYTES_BOUND,
  MIB,
  type CloseSeen,
  type Received,
  extensionNames,
  portOf,
  tidewireClosed,
  tidewireMessages,
  toBuffer,
  within,
} from './support.js';

const TEST_TIMEOUT = { timeout: 15_000 };

/** A server-side connection, with its upgrade request (whose socket counts wire bytes). */
interface Peer<S> {
  socket: S;
  req: IncomingMessage;
  messages: AsyncQueue<Received>;
}

function wsClosed(ws: WsSocket, label: string): Promise<CloseSeen> {
  return within(
    new Promise<CloseSeen>((resolve) => {
      ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }));
    }),
    label,
  );
}

function wsMessages(ws: WsSocket, label: string): AsyncQueue<Received> {
  const messages = new AsyncQueue<Received>(label);
  ws.on('message', (data, isBinary) => messages.push({ data: toBuffer(data), isBinary }));
  return messages;
}

const TEXT = 'héllo ✓ interop';
const BINARY = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe('tidewire client ↔ ws server', () => {
  let server: WsServer;
  let url: string;
  const peers = new AsyncQueue<Peer<WsSocket>>('ws server connections');

  before(async () => {
    server = new WsServer({
      host: '127.0.0.1',
      port: 0,
      perMessageDeflate: { threshold: 0 },
      handleProtocols: (protocols) => (protocols.has('chat.v1') ? 'chat.v1' : false),
    });
    server.on('connection', (socket, req) => {
      peers.push({ socket, req, messages: wsMessages(socket, 'ws server inbox') });
    });
    await once(server, 'listening');
    url = `ws://127.0.0.1:${portOf(server)}/`;
  });

  after(async () => {
    for (const socket of server.clients) socket.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function connect(): Promise<{ client: WebSocket; inbox: AsyncQueue<Received>; peer: Peer<WsSocket> }> {
    const client = new WebSocket(url, ['chat.v2', 'chat.v1']);
    const inbox = tidewireMessages(client, 'tidewire client inbox');
    await within(once(client, 'open'), 'tidewire client open');
    const peer = await peers.next();
    return { client, inbox, peer };
  }

  async function closeQuietly(client: WebSocket): Promise<void> {
    if (client.readyState === WebSocket.CLOSED) return;
    const closed = once(client, 'close');
    if (client.readyState === WebSocket.OPEN) client.close(1000);
    await within(closed, 'tidewire client close');
  }

  test('client negotiates the subprotocol the ws server picks and permessage-deflate on both sides', TEST_TIMEOUT, async () => {
    const { client, peer } = await connect();
    assert.equal(client.protocol, 'chat.v1');
    assert.equal(peer.socket.protocol, 'chat.v1');
    assert.deepEqual(extensionNames(client.extensions), ['permessage-deflate']);
    assert.deepEqual(extensionNames(peer.socket.extensions), ['permessage-deflate']);
    await closeQuietly(client);
  });

  test('client sends text and binary; ws server receives each with its type and the echo comes back intact', TEST_TIMEOUT, async () => {
    const { client, inbox, peer } = await connect();
    for (const [data, isBinary] of [
      [TEXT, false],
      [BINARY, true],
    ] as const) {
      client.send(data);
      const got = await peer.messages.next();
      assert.equal(got.isBinary, isBinary);
      assert.deepEqual(got.data, Buffer.from(data));
      peer.socket.send(got.data, { binary: got.isBinary });
      const echo = await inbox.next();
      assert.equal(echo.isBinary, isBinary);
      assert.deepEqual(echo.data, Buffer.from(data));
    }
    await closeQuietly(client);
  });

  test('client sends and receives a 1 MiB binary message intact', TEST_TIMEOUT, async () => {
    const { client, inbox, peer } = await connect();
    const up = randomBytes(MIB);
    client.send(up);
    const got = await peer.messages.next();
    assert.equal(got.isBinary, true);
    assert.equal(got.data.length, MIB);
    assert.ok(got.data.equals(up), 'ws server received different bytes');

    const down = randomBytes(MIB);
    peer.socket.send(down);
    const received = await inbox.next();
    assert.equal(received.isBinary, true);
    assert.equal(received.data.length, MIB);
    assert.ok(received.data.equals(down), 'tidewire client received different bytes');
    await closeQuietly(client);
  });

  test('client reassembles a text and a binary message the ws server sent in fragments', TEST_TIMEOUT, async () => {
    const { client, inbox, peer } = await connect();
    peer.socket.send('frag', { fin: false });
    peer.socket.send('ment', { fin: false });
    peer.socket.send('ed ✓', { fin: true });
    const text = await inbox.next();
    assert.equal(text.isBinary, false);
    assert.equal(text.data.toString(), 'fragmented ✓');

    peer.socket.send(BINARY.subarray(0, 100), { binary: true, fin: false });
    peer.socket.send(BINARY.subarray(100, 101), { binary: true, fin: false });
    peer.socket.send(BINARY.subarray(101), { binary: true, fin: true });
    const binary = await inbox.next();
    assert.equal(binary.isBinary, true);
    assert.deepEqual(binary.data, BINARY);
    await closeQuietly(client);
  });

  test('client and ws server exchange 1 MiB of compressible text deflated on the wire both ways', TEST_TIMEOUT, async () => {
    const { client, inbox, peer } = await connect();
    const text = 'a'.repeat(MIB);
    const wire = peer.req.socket;

    const readBefore = wire.bytesRead;
    client.send(text, { compress: true });
    const got = await peer.messages.next();
    assert.equal(got.isBinary, false);
    assert.equal(got.data.length, MIB);
    assert.ok(got.data.toString() === text, 'ws server received different text');
    const upWire = wire.bytesRead - readBefore;
    assert.ok(upWire < COMPRESSED_BYTES_BOUND, `client sent ${upWire} wire bytes for 1 MiB of "a": not deflated`);

    const writtenBefore = wire.bytesWritten;
    peer.socket.send(text, { compress: true });
    const received = await inbox.next();
    assert.equal(received.isBinary, false);
    assert.ok(received.data.toString() === text, 'tidewire client received different text');
    const downWire = wire.bytesWritten - writtenBefore;
    assert.ok(downWire < COMPRESSED_BYTES_BOUND, `ws server sent ${downWire} wire bytes: compression not in use`);

    // Small compressed messages too (the ws server deflates everything: threshold 0).
    for (const small of ['x', '', 'tidewire '.repeat(50)]) {
      client.send(small, { compress: true });
      const echoed = await peer.messages.next();
      assert.equal(echoed.data.toString(), small);
      peer.socket.send(echoed.data, { binary: false });
      assert.equal((await inbox.next()).data.toString(), small);
    }
    await closeQuietly(client);
  });

  for (const [code, reason] of [
    [1000, 'normal bye'],
    [4000, 'client bye ✓'],
  ] as const) {
    test(`client closes with ${code} and a reason; ws server sees both and each side ends clean`, TEST_TIMEOUT, async () => {
      const { client, peer } = await connect();
      const clientSaw = tidewireClosed(client, 'tidewire client close');
      const serverSaw = wsClosed(peer.socket, 'ws server close');
      client.close(code, reason);
      assert.equal(client.readyState, WebSocket.CLOSING);
      assert.deepEqual(await serverSaw, { code, reason, wasClean: true });
      const seen = await clientSaw;
      assert.equal(seen.code, code, 'ws echoes the close code; the client reports the code it received');
      assert.equal(seen.wasClean, true);
      assert.equal(client.readyState, WebSocket.CLOSED);
    });

    test(`ws server closes with ${code} and a reason; client sees both and each side ends clean`, TEST_TIMEOUT, async () => {
      const { client, peer } = await connect();
      const clientSaw = tidewireClosed(client, 'tidewire client close');
      const serverSaw = wsClosed(peer.socket, 'ws server close');
      peer.socket.close(code, `server ${reason}`);
      assert.deepEqual(await clientSaw, { code, reason: `server ${reason}`, wasClean: true });
      const seen = await serverSaw;
      assert.equal(seen.code, code, 'the client echoes the close code (RFC 6455 §5.5.1)');
      assert.equal(seen.wasClean, true);
      assert.equal(client.readyState, WebSocket.CLOSED);
    });
  }

  test('client ping gets a ws pong with its payload, and a ws server ping gets a client pong', TEST_TIMEOUT, async () => {
    const { client, peer } = await connect();
    const serverGotPing = once(peer.socket, 'ping');
    const clientGotPong = once(client, 'pong');
    client.ping(Buffer.from('tw-ping'));
    assert.deepEqual((await within(serverGotPing, 'ws server ping'))[0], Buffer.from('tw-ping'));
    assert.deepEqual((await within(clientGotPong, 'tidewire client pong'))[0], Buffer.from('tw-ping'));

    const clientGotPing = once(client, 'ping');
    const serverGotPong = once(peer.socket, 'pong');
    peer.socket.ping(Buffer.from('ws-ping'));
    assert.deepEqual((await within(clientGotPing, 'tidewire client ping'))[0], Buffer.from('ws-ping'));
    assert.deepEqual((await within(serverGotPong, 'ws server pong'))[0], Buffer.from('ws-ping'));
    await closeQuietly(client);
  });
});

describe('ws client ↔ tidewire server', () => {
  let server: WebSocketServer;
  let url: string;
  const peers = new AsyncQueue<Peer<WebSocket>>('tidewire server connections');

  before(async () => {
    server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      perMessageDeflate: true,
      handleProtocols: (protocols: Set<string>) => (protocols.has('chat.v2') ? 'chat.v2' : false),
    });
    server.on('connection', (socket: WebSocket, req: IncomingMessage) => {
      peers.push({ socket, req, messages: tidewireMessages(socket, 'tidewire server inbox') });
    });
    await within(once(server, 'listening'), 'tidewire server listening');
    url = `ws://127.0.0.1:${portOf(server)}/`;
  });

  after(async () => {
    await within(new Promise<void>((resolve) => server.close(() => resolve())), 'tidewire server close', 5_000);
  });

  async function connect(): Promise<{ client: WsSocket; inbox: AsyncQueue<Received>; peer: Peer<WebSocket> }> {
    const client = new WsSocket(url, ['chat.v1', 'chat.v2'], { perMessageDeflate: { threshold: 0 } });
    const inbox = wsMessages(client, 'ws client inbox');
    await within(once(client, 'open'), 'ws client open');
    const peer = await peers.next();
    return { client, inbox, peer };
  }

  async function closeQuietly(client: WsSocket): Promise<void> {
    if (client.readyState === WsSocket.CLOSED) return;
    const closed = once(client, 'close');
    if (client.readyState === WsSocket.OPEN) client.close(1000);
    await within(closed, 'ws client close');
  }

  test('server picks the subprotocol with handleProtocols and negotiates permessage-deflate with a ws client', TEST_TIMEOUT, async () => {
    const { client, peer } = await connect();
    assert.equal(client.protocol, 'chat.v2');
    assert.equal(peer.socket.protocol, 'chat.v2');
    assert.deepEqual(extensionNames(client.extensions), ['permessage-deflate']);
    assert.deepEqual(extensionNames(peer.socket.extensions), ['permessage-deflate']);
    await closeQuietly(client);
  });

  test('server receives text and binary from a ws client with their types and echoes them intact', TEST_TIMEOUT, async () => {
    const { client, inbox, peer } = await connect();
    for (const [data, isBinary] of [
      [TEXT, false],
      [BINARY, true],
    ] as const) {
      client.send(data);
      const got = await peer.messages.next();
      assert.equal(got.isBinary, isBinary);
      assert.deepEqual(got.data, Buffer.from(data));
      peer.socket.send(got.data, { binary: got.isBinary });
      const echo = await inbox.next();
      assert.equal(echo.isBinary, isBinary);
      assert.deepEqual(echo.data, Buffer.from(data));
    }
    await closeQuietly(client);
  });

  test('server receives and sends a 1 MiB binary message intact', TEST_TIMEOUT, async () => {
    const { client, inbox, peer } = await connect();
    const up = randomBytes(MIB);
    client.send(up);
    const got = await peer.messages.next();
    assert.equal(got.isBinary, true);
    assert.equal(got.data.length, MIB);
    assert.ok(got.data.equals(up), 'tidewire server received different bytes');

    const down = randomBytes(MIB);
    peer.socket.send(down);
    const received = await inbox.next();
    assert.equal(received.isBinary, true);
    assert.ok(received.data.equals(down), 'ws client received different bytes');
    await closeQuietly(client);
  });

  test('server reassembles a text and a binary message a ws client sent in fragments', TEST_TIMEOUT, async () => {
    const { client, peer } = await connect();
    client.send('frag', { fin: false });
    client.send('ment', { fin: false });
    client.send('ed ✓', { fin: true });
    const text = await peer.messages.next();
    assert.equal(text.isBinary, false);
    assert.equal(text.data.toString(), 'fragmented ✓');

    client.send(BINARY.subarray(0, 100), { binary: true, fin: false });
    client.send(BINARY.subarray(100, 101), { binary: true, fin: false });
    client.send(BINARY.subarray(101), { binary: true, fin: true });
    const binary = await peer.messages.next();
    assert.equal(binary.isBinary, true);
    assert.deepEqual(binary.data, BINARY);
    await closeQuietly(client);
  });

  test('server and ws client exchange 1 MiB of compressible text deflated on the wire both ways', TEST_TIMEOUT, async () => {
    const { client, inbox, peer } = await connect();
    const text = 'a'.repeat(MIB);
    const wire = peer.req.socket;

    const readBefore = wire.bytesRead;
    client.send(text, { compress: true });
    const got = await peer.messages.next();
    assert.equal(got.isBinary, false);
    assert.equal(got.data.length, MIB);
    assert.ok(got.data.toString() === text, 'tidewire server received different text');
    const upWire = wire.bytesRead - readBefore;
    assert.ok(upWire < COMPRESSED_BYTES_BOUND, `ws client sent ${upWire} wire bytes: compression not in use`);

    const writtenBefore = wire.bytesWritten;
    peer.socket.send(text, { compress: true });
    const received = await inbox.next();
    assert.equal(received.isBinary, false);
    assert.ok(received.data.toString() === text, 'ws client received different text');
    const downWire = wire.bytesWritten - writtenBefore;
    assert.ok(downWire < COMPRESSED_BYTES_BOUND, `server sent ${downWire} wire bytes for 1 MiB of "a": not deflated`);

    for (const small of ['x', '', 'tidewire '.repeat(50)]) {
      client.send(small, { compress: true });
      const echoed = await peer.messages.next();
      assert.equal(echoed.data.toString(), small);
      peer.socket.send(echoed.data, { binary: false, compress: true });
      assert.equal((await inbox.next()).data.toString(), small);
    }
    await closeQuietly(client);
  });

  for (const [code, reason] of [
    [1000, 'normal bye'],
    [4000, 'client bye ✓'],
  ] as const) {
    test(`server sees ${code} and the reason when a ws client closes; each side ends clean`, TEST_TIMEOUT, async () => {
      const { client, peer } = await connect();
      const serverSaw = tidewireClosed(peer.socket, 'tidewire server close');
      const clientSaw = wsClosed(client, 'ws client close');
      client.close(code, reason);
      assert.deepEqual(await serverSaw, { code, reason, wasClean: true });
      const seen = await clientSaw;
      assert.equal(seen.code, code, 'the server echoes the close code (RFC 6455 §5.5.1)');
      assert.equal(seen.wasClean, true);
      assert.equal(peer.socket.readyState, WebSocket.CLOSED);
    });

    test(`server closes with ${code} and a reason; ws client sees both and each side ends clean`, TEST_TIMEOUT, async () => {
      const { client, peer } = await connect();
      const serverSaw = tidewireClosed(peer.socket, 'tidewire server close');
      const clientSaw = wsClosed(client, 'ws client close');
      peer.socket.close(code, `server ${reason}`);
      assert.equal(peer.socket.readyState, WebSocket.CLOSING);
      assert.deepEqual(await clientSaw, { code, reason: `server ${reason}`, wasClean: true });
      const seen = await serverSaw;
      assert.equal(seen.code, code, 'ws echoes the close code; the server reports the code it received');
      assert.equal(seen.wasClean, true);
    });
  }

  test('server that closes inside its connection handler completes the handshake and emits close', TEST_TIMEOUT, async () => {
    const closing = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    const serverSaw = new AsyncQueue<Promise<CloseSeen>>('closing server connections');
    closing.on('connection', (socket: WebSocket) => {
      serverSaw.push(tidewireClosed(socket, 'tidewire server close (closed in the connection handler)'));
      socket.close(4000, 'go away');
    });
    try {
      await within(once(closing, 'listening'), 'closing server listening');
      const client = new WsSocket(`ws://127.0.0.1:${portOf(closing)}/`);
      const clientSaw = wsClosed(client, 'ws client close');
      assert.deepEqual(await clientSaw, { code: 4000, reason: 'go away', wasClean: true });
      const seen = await (await serverSaw.next());
      assert.equal(seen.code, 4000);
      assert.equal(seen.wasClean, true);
      assert.equal(closing.clients.size, 0);
    } finally {
      // Best effort: a failure above is the one worth reporting.
      for (const socket of closing.clients) socket.terminate();
      await within(new Promise<void>((resolve) => closing.close(() => resolve())), 'closing server close', 3_000).catch(() => {});
    }
  });

  test('server answers a ws client ping with a pong carrying its payload, and its own ping gets a pong', TEST_TIMEOUT, async () => {
    const { client, peer } = await connect();
    const serverGotPing = once(peer.socket, 'ping');
    const clientGotPong = once(client, 'pong');
    client.ping(Buffer.from('ws-ping'));
    assert.deepEqual((await within(serverGotPing, 'tidewire server ping'))[0], Buffer.from('ws-ping'));
    assert.deepEqual((await within(clientGotPong, 'ws client pong'))[0], Buffer.from('ws-ping'));

    const clientGotPing = once(client, 'ping');
    const serverGotPong = once(peer.socket, 'pong');
    peer.socket.ping(Buffer.from('tw-ping'));
    assert.deepEqual((await within(clientGotPing, 'ws client ping'))[0], Buffer.from('tw-ping'));
    assert.deepEqual((await within(serverGotPong, 'tidewire server pong'))[0], Buffer.from('tw-ping'));
    await closeQuietly(client);
  });
});
