// permessage-deflate (RFC 7692) through the Node layer: negotiation defaults on each side,
// compressed round trips of every size class, order among compressed and uncompressed messages,
// the no_context_takeover variants (seen in the bytes on the wire), and zip bombs ending in 1009.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import zlib from 'node:zlib';
import type { DeflateOptions, WebSocket } from '../../src/index.js';
import { closeOf, connectionsOf, messagesOf, within, type Accepted, type Inbox } from './support/events.js';
import { Opcode, RawClient } from './support/raw-client.js';
import { newClient, onTeardown, openClient, startServer } from './support/servers.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const SYNC_FLUSH_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Raw deflate of one message as RFC 7692 §7.2.1 puts it on the wire (sync flush, tail removed). */
function deflateMessage(data: Buffer): Buffer {
  const out = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return out.subarray(-4).equals(SYNC_FLUSH_TAIL) ? out.subarray(0, -4) : out;
}

interface Pair {
  client: WebSocket;
  serverSide: WebSocket;
  /** The server's TCP socket of this connection: its byte counters are what crossed the wire. */
  wire: Socket;
  connections: Inbox<Accepted>;
  url: string;
}

/** A server (echoing unless told not to) and one client connected to it. */
async function connectPair(
  t: TestContext,
  server: { perMessageDeflate?: boolean | DeflateOptions; echo?: boolean; maxPayload?: number },
  client: { perMessageDeflate?: boolean | DeflateOptions; maxPayload?: number } = {},
): Promise<Pair> {
  const { wss, url } = await startServer(t, {
    ...(server.perMessageDeflate !== undefined ? { perMessageDeflate: server.perMessageDeflate } : {}),
    ...(server.maxPayload !== undefined ? { maxPayload: server.maxPayload } : {}),
  });
  const connections = connectionsOf(wss);
  if (server.echo !== false) {
    wss.on('connection', (ws: WebSocket) => ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary })));
  }
  const ws = await openClient(t, url, undefined, client);
  const { ws: serverSide, req } = await connections.next();
  return { client: ws, serverSide, wire: req.socket, connections, url };
}

/** Text of exactly `bytes` UTF-8 bytes, mixing one- and two-byte characters, not trivially compressible. */
function textOfBytes(bytes: number): string {
  const random = randomBytes(bytes);
  let out = '';
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const twoByte = (random[i]! & 1) === 1 && size + 2 <= bytes;
    out += twoByte ? String.fromCharCode(0xe0 + (random[i]! % 26)) : String.fromCharCode(0x61 + (random[i]! % 26));
    size += twoByte ? 2 : 1;
  }
  return out;
}

describe('permessage-deflate negotiation', () => {
  test('client offers permessage-deflate by default and the server declines it by default', async (t) => {
    const { wss, url } = await startServer(t);
    const connections = connectionsOf(wss);
    const client = await openClient(t, url);
    const { ws: serverSide, req } = await connections.next();
    assert.match(String(req.headers['sec-websocket-extensions']), /^permessage-deflate\b/);
    assert.equal(client.extensions, '');
    assert.equal(serverSide.extensions, '');
  });

  test('server with perMessageDeflate enabled agrees, and both sides report the extension', async (t) => {
    const { client, serverSide } = await connectPair(t, { perMessageDeflate: true });
    assert.match(client.extensions, /^permessage-deflate\b/);
    assert.equal(serverSide.extensions, client.extensions);
  });

  test('client with perMessageDeflate false does not offer it, even to a server that enables it', async (t) => {
    const { client, serverSide } = await connectPair(t, { perMessageDeflate: true }, { perMessageDeflate: false });
    assert.equal(client.extensions, '');
    assert.equal(serverSide.extensions, '');
  });
});

describe('permessage-deflate round trips', () => {
  const sizes = [0, 1, 127, 128, 64 * KIB, MIB];

  for (const size of sizes) {
    test(`client and server round-trip compressed text and binary of ${size} bytes`, async (t) => {
      const { client } = await connectPair(t, { perMessageDeflate: { threshold: 0 } }, { perMessageDeflate: { threshold: 0 } });
      const inbox = messagesOf(client);
      const text = textOfBytes(size);
      const binary = randomBytes(size);
      client.send(text);
      client.send(binary);
      const [echoedText, echoedBinary] = await inbox.take(2, 8000);
      assert.equal(echoedText!.isBinary, false);
      assert.equal(echoedText!.data.length, size);
      assert.ok(echoedText!.data.toString('utf8') === text, 'text comes back unchanged');
      assert.equal(echoedBinary!.isBinary, true);
      assert.ok(echoedBinary!.data.equals(binary), 'binary comes back unchanged');
    });
  }

  test('client and server really compress: 1 MiB of repetitive text crosses the wire in a few KiB each way', async (t) => {
    const { client, wire } = await connectPair(t, { perMessageDeflate: true });
    const inbox = messagesOf(client);
    const text = 'tidewire '.repeat(MIB / 9 + 1).slice(0, MIB);
    const readBefore = wire.bytesRead;
    const writtenBefore = wire.bytesWritten;
    client.send(text);
    const echoed = await inbox.next(8000);
    assert.equal(echoed.data.toString(), text);
    const up = wire.bytesRead - readBefore;
    const down = wire.bytesWritten - writtenBefore;
    assert.ok(up < 64 * KIB, `client to server: ${up} bytes on the wire for 1 MiB`);
    assert.ok(down < 64 * KIB, `server to client: ${down} bytes on the wire for 1 MiB`);
  });

  test('client and server keep message order when compressed and below-threshold messages interleave', async (t) => {
    const { client, serverSide } = await connectPair(t, { perMessageDeflate: { threshold: 128 }, echo: false });
    const atServer = messagesOf(serverSide, 'server inbox');
    const atClient = messagesOf(client, 'client inbox');
    const count = 400;
    const payload = (i: number): Buffer => {
      const size = i % 4 === 0 ? 10 : i % 4 === 1 ? 4000 : i % 4 === 2 ? 127 : 128;
      const data = Buffer.alloc(size, 0x41 + (i % 26)); // ASCII: every message may go as text
      data.write(String(i).padStart(5, '0').slice(0, Math.min(5, size)), 0, 'latin1');
      return data;
    };
    for (let i = 0; i < count; i++) {
      // A few go out uncompressed on request, in the middle of compressed ones.
      const options = { binary: i % 2 === 0, ...(i % 7 === 0 ? { compress: false } : {}) };
      client.send(payload(i), options);
      serverSide.send(payload(i), options);
    }
    const up = await atServer.take(count, 8000);
    const down = await atClient.take(count, 8000);
    for (let i = 0; i < count; i++) {
      assert.ok(up[i]!.data.equals(payload(i)), `client to server message ${i} in place`);
      assert.equal(up[i]!.isBinary, i % 2 === 0);
      assert.ok(down[i]!.data.equals(payload(i)), `server to client message ${i} in place`);
    }
  });
  test('client sends tens of thousands of small messages queued behind a big one, all in order', async (t) => {
    // The big one is compressed in the thread pool; the small ones wait behind it and are then
    // compressed at once, one after the other (without growing the stack per message).
    const { client, serverSide } = await connectPair(t, { perMessageDeflate: true, echo: false });
    const atServer = messagesOf(serverSide, 'server inbox');
    const big = Buffer.from(textOfBytes(64 * KIB));
    const count = 30_000;
    const small = (i: number): string => `{"seq":${i},"pad":"${'x'.repeat(150)}"}`;
    client.send(big);
    for (let i = 0; i < count; i++) client.send(small(i));
    const received = await atServer.take(count + 1, 30_000);
    assert.ok(received[0]!.data.equals(big));
    for (let i = 0; i < count; i++) assert.equal(received[i + 1]!.data.toString(), small(i), `message ${i}`);
  });

  test('server sends messages below the threshold uncompressed and the rest compressed, in send order', async (t) => {
    const { port, wss } = await startServer(t, { perMessageDeflate: { threshold: 128 } });
    const connections = connectionsOf(wss);
    // server_no_context_takeover: each compressed message inflates on its own.
    const raw = await RawClient.connect(port, { extensions: 'permessage-deflate; server_no_context_takeover' });
    onTeardown(t, () => raw.destroy());
    const { ws: serverSide } = await connections.next();
    const sizes = [10, 4000, 127, 128, 0, 129, 1, 70_000, 5];
    sizes.forEach((size, i) => serverSide.send(Buffer.alloc(size, 0x61 + i), { binary: i % 2 === 0 }));
    serverSide.send(Buffer.alloc(500, 0x7a), { compress: false });
    for (const [i, size] of sizes.entries()) {
      const frame = await raw.nextFrame();
      assert.equal(frame.opcode, i % 2 === 0 ? Opcode.BINARY : Opcode.TEXT, `message ${i}`);
      assert.equal(frame.rsv1, size >= 128, `message ${i} of ${size} bytes compressed: ${frame.rsv1}`);
      const data = frame.rsv1 ? zlib.inflateRawSync(Buffer.concat([frame.payload, SYNC_FLUSH_TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH }) : frame.payload;
      assert.ok(data.equals(Buffer.alloc(size, 0x61 + i)), `message ${i} content`);
    }
    const uncompressed = await raw.nextFrame();
    assert.equal(uncompressed.rsv1, false, 'compress: false is honoured');
    assert.equal(uncompressed.payload.length, 500);
  });
});

describe('permessage-deflate context takeover', () => {
  /** Wire bytes of sending the same incompressible 4 KiB message twice in each direction. */
  async function repeatCost(t: TestContext, server: DeflateOptions, client: DeflateOptions) {
    const { client: ws, serverSide, wire } = await connectPair(t, { perMessageDeflate: { threshold: 0, ...server }, echo: false }, { perMessageDeflate: client });
    const atServer = messagesOf(serverSide, 'server inbox');
    const atClient = messagesOf(ws, 'client inbox');
    const message = randomBytes(4 * KIB);
    const up: number[] = [];
    const down: number[] = [];
    for (let round = 0; round < 2; round++) {
      const read = wire.bytesRead;
      ws.send(message);
      assert.ok((await atServer.next()).data.equals(message));
      up.push(wire.bytesRead - read);
      const written = wire.bytesWritten;
      serverSide.send(message);
      assert.ok((await atClient.next()).data.equals(message));
      down.push(wire.bytesWritten - written);
    }
    return { extensions: ws.extensions, up, down };
  }

  test('with context takeover a repeated message is sent as a back-reference, in both directions', async (t) => {
    const { extensions, up, down } = await repeatCost(t, {}, {});
    assert.doesNotMatch(extensions, /no_context_takeover/);
    assert.ok(up[1]! < 200, `client resent 4 KiB in ${up[1]} bytes (first time ${up[0]})`);
    assert.ok(down[1]! < 200, `server resent 4 KiB in ${down[1]} bytes (first time ${down[0]})`);
  });

  test('server_no_context_takeover (server option) makes the server compress each message afresh', async (t) => {
    const { extensions, up, down } = await repeatCost(t, { serverNoContextTakeover: true }, {});
    assert.match(extensions, /server_no_context_takeover/);
    assert.ok(down[1]! > 4 * KIB, `server resent 4 KiB in ${down[1]} bytes: it used the previous message`);
    assert.ok(up[1]! < 200, `the client keeps its context: ${up[1]} bytes`);
  });

  test('server_no_context_takeover requested by the client is honoured by the server', async (t) => {
    const { extensions, down } = await repeatCost(t, {}, { serverNoContextTakeover: true });
    assert.match(extensions, /server_no_context_takeover/);
    assert.ok(down[1]! > 4 * KIB, `server resent 4 KiB in ${down[1]} bytes: it used the previous message`);
  });

  test('client_no_context_takeover (client option) makes the client compress each message afresh', async (t) => {
    const { extensions, up, down } = await repeatCost(t, {}, { clientNoContextTakeover: true });
    assert.match(extensions, /client_no_context_takeover/);
    assert.ok(up[1]! > 4 * KIB, `client resent 4 KiB in ${up[1]} bytes: it used the previous message`);
    assert.ok(down[1]! < 200, `the server keeps its context: ${down[1]} bytes`);
  });

  test('client_no_context_takeover asked by the server is obeyed by the client', async (t) => {
    const { extensions, up } = await repeatCost(t, { clientNoContextTakeover: true }, {});
    assert.match(extensions, /client_no_context_takeover/);
    assert.ok(up[1]! > 4 * KIB, `client resent 4 KiB in ${up[1]} bytes: it used the previous message`);
  });
});

describe('permessage-deflate zip bombs', () => {
  const BOMB_BYTES = 50 * 1000 * 1000;
  const bomb = deflateMessage(Buffer.alloc(BOMB_BYTES)); // about 50 KB on the wire

  test('server fails a compressed message that inflates to 50 MB with 1009, quickly', async (t) => {
    const { port, wss, url } = await startServer(t, { perMessageDeflate: true, maxPayload: MIB });
    const connections = connectionsOf(wss);
    const bystander = await openClient(t, url);
    const { ws: bystanderSide } = await connections.next();
    bystanderSide.on('message', (data: Buffer) => bystanderSide.send(data));
    const raw = await RawClient.connect(port, { extensions: 'permessage-deflate' });
    onTeardown(t, () => raw.destroy());
    assert.equal(raw.status, 101);
    assert.match(String(raw.header('sec-websocket-extensions')), /^permessage-deflate/);
    const { ws: serverSide } = await connections.next();
    const errors: Error[] = [];
    serverSide.on('error', (error: Error) => errors.push(error));
    let messages = 0;
    serverSide.on('message', () => messages++);

    const started = Date.now();
    await raw.sendFrame(Opcode.BINARY, bomb, { rsv1: true });
    const close = await raw.readUntilClose(3000);
    const elapsed = Date.now() - started;
    assert.equal(close.code, 1009);
    assert.ok(elapsed < 2000, `1009 after ${elapsed} ms`);
    assert.equal(messages, 0);
    assert.equal((errors[0] as { code?: string } | undefined)?.code, 'LIMIT_EXCEEDED');
    await raw.waitForEnd();

    const inbox = messagesOf(bystander);
    bystander.send('unaffected');
    assert.equal((await inbox.next()).data.toString(), 'unaffected');
  });

  test('server fails a fragmented compressed message whose pieces together inflate past maxPayload with 1009', async (t) => {
    const { port } = await startServer(t, { perMessageDeflate: true, maxPayload: MIB });
    const raw = await RawClient.connect(port, { extensions: 'permessage-deflate' });
    onTeardown(t, () => raw.destroy());
    // 4 MB of zeros in 16 fragments: each fragment alone is below 1 MiB, together they are not.
    const compressed = deflateMessage(Buffer.alloc(4 * 1000 * 1000));
    const pieces = 16;
    const step = Math.ceil(compressed.length / pieces);
    for (let i = 0; i < pieces; i++) {
      const piece = compressed.subarray(i * step, (i + 1) * step);
      await raw.sendFrame(i === 0 ? Opcode.BINARY : Opcode.CONTINUATION, piece, { rsv1: i === 0, fin: i === pieces - 1 });
    }
    const close = await raw.readUntilClose(3000);
    assert.equal(close.code, 1009);
  });

  test('client fails a compressed message from the server that inflates past maxPayload with 1009', async (t) => {
    const server = await startBombServer(bomb);
    onTeardown(t, () => server.close());
    const client = newClient(t, `ws://127.0.0.1:${server.port}/`, undefined, { maxPayload: MIB });
    const errors: Error[] = [];
    client.on('error', (error: Error) => errors.push(error));
    const closed = closeOf(client, 'client close', 3000);
    const payload = await within(server.closePayload, 'the client close frame', 3000);
    assert.equal(payload.readUInt16BE(0), 1009);
    assert.equal((errors[0] as { code?: string } | undefined)?.code, 'LIMIT_EXCEEDED');
    const close = await closed;
    assert.equal(close.wasClean, false, 'the client failed the connection');
  });
});

/**
 * A raw TCP server that accepts one WebSocket handshake with permessage-deflate, sends `payload`
 * as one compressed binary frame, and resolves with the payload of the client's close frame.
 */
async function startBombServer(payload: Buffer): Promise<{ port: number; closePayload: Promise<Buffer>; close: () => Promise<void> }> {
  const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
  const sockets = new Set<Socket>();
  let resolveClose!: (payload: Buffer) => void;
  const closePayload = new Promise<Buffer>((resolve) => (resolveClose = resolve));
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let received = Buffer.alloc(0);
    let upgraded = false;
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (!upgraded) {
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        upgraded = true;
        const key = /sec-websocket-key:\s*(\S+)/i.exec(received.subarray(0, end).toString('latin1'))?.[1] ?? '';
        received = received.subarray(end + 4);
        const accept = createHash('sha1').update(key + GUID).digest('base64');
        const frameHead = Buffer.alloc(10);
        frameHead[0] = 0xc0 | Opcode.BINARY; // fin, rsv1 (compressed)
        frameHead[1] = 127;
        frameHead.writeBigUInt64BE(BigInt(payload.length), 2);
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n`,
        );
        socket.write(Buffer.concat([frameHead, payload]));
      }
      // The client's frame: masked (4-byte key), a close payload of at most 125 bytes.
      if (received.length < 2) return;
      const length = received[1]! & 0x7f;
      if ((received[0]! & 0x0f) !== Opcode.CLOSE || received.length < 6 + length) return;
      const body = Buffer.from(received.subarray(6, 6 + length));
      for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ received[2 + (i & 3)]!;
      resolveClose(body);
      socket.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    closePayload,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
