// Interop with the `ws` package over real sockets: tidewire's client against a ws server and a ws
// client against tidewire's server, each with text, binary, 1 MiB, fragments, permessage-deflate
// (checked on the wire by byte counts), a subprotocol, close codes both ways and ping/pong.
// The cases are written once over a Link (a client end and a server end, one tidewire, one ws)
// and run in both directions.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { WebSocket as WsSocket } from 'ws';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { AsyncQueue } from './async-queue.js';
import { COMPRESSED_BYTES_BOUND, MIB, type CloseSeen, extensionNames, portOf, tidewireClosed, within } from './support.js';
import { tidewireClientToWsServer, wsClientToTidewireServer, type Direction, type End, type Library, type Link } from './ws-directions.js';

const TEST_TIMEOUT = { timeout: 15_000 };

function wsClosed(ws: WsSocket, label: string): Promise<CloseSeen> {
  return within(
    new Promise<CloseSeen>((resolve) => {
      ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }));
    }),
    label,
  );
}

/** The close as `end` reports it, through the API of its library. */
function closeSeenBy(link: Link, end: End): Promise<CloseSeen> {
  const label = `${end.name} close`;
  return end.library === 'tidewire' ? tidewireClosed(link.tidewire.socket, label) : wsClosed(link.ws.socket, label);
}

const TEXT = 'héllo ✓ interop';
const BINARY = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/** A case of the matrix: its name in each direction (keyed by the client's library) and its body. */
interface MatrixCase {
  name: Record<Library, string>;
  run(link: Link, direction: Direction): Promise<void>;
}

const CASES: MatrixCase[] = [];

function matrixCase(name: Record<Library, string>, run: (link: Link, direction: Direction) => Promise<void>): void {
  CASES.push({ name, run });
}

matrixCase(
  {
    tidewire: 'client negotiates the subprotocol the ws server picks and permessage-deflate on both sides',
    ws: 'server picks the subprotocol with handleProtocols and negotiates permessage-deflate with a ws client',
  },
  async ({ client, server, closeQuietly }, direction) => {
    assert.equal(client.socket.protocol, direction.protocol);
    assert.equal(server.socket.protocol, direction.protocol);
    assert.deepEqual(extensionNames(client.socket.extensions), ['permessage-deflate']);
    assert.deepEqual(extensionNames(server.socket.extensions), ['permessage-deflate']);
    await closeQuietly();
  },
);

matrixCase(
  {
    tidewire: 'client sends text and binary; ws server receives each with its type and the echo comes back intact',
    ws: 'server receives text and binary from a ws client with their types and echoes them intact',
  },
  async ({ client, server, closeQuietly }) => {
    for (const [data, isBinary] of [
      [TEXT, false],
      [BINARY, true],
    ] as const) {
      client.socket.send(data);
      const got = await server.messages.next();
      assert.equal(got.isBinary, isBinary);
      assert.deepEqual(got.data, Buffer.from(data));
      server.socket.send(got.data, { binary: got.isBinary });
      const echo = await client.messages.next();
      assert.equal(echo.isBinary, isBinary);
      assert.deepEqual(echo.data, Buffer.from(data));
    }
    await closeQuietly();
  },
);

matrixCase(
  {
    tidewire: 'client sends and receives a 1 MiB binary message intact',
    ws: 'server receives and sends a 1 MiB binary message intact',
  },
  async ({ client, server, closeQuietly }) => {
    const up = randomBytes(MIB);
    client.socket.send(up);
    const got = await server.messages.next();
    assert.equal(got.isBinary, true);
    assert.equal(got.data.length, MIB);
    assert.ok(got.data.equals(up), `${server.name} received different bytes`);

    const down = randomBytes(MIB);
    server.socket.send(down);
    const received = await client.messages.next();
    assert.equal(received.isBinary, true);
    assert.equal(received.data.length, MIB);
    assert.ok(received.data.equals(down), `${client.name} received different bytes`);
    await closeQuietly();
  },
);

matrixCase(
  {
    tidewire: 'client reassembles a text and a binary message the ws server sent in fragments',
    ws: 'server reassembles a text and a binary message a ws client sent in fragments',
  },
  async ({ ws, tidewire, closeQuietly }) => {
    ws.socket.send('frag', { fin: false });
    ws.socket.send('ment', { fin: false });
    ws.socket.send('ed ✓', { fin: true });
    const text = await tidewire.messages.next();
    assert.equal(text.isBinary, false);
    assert.equal(text.data.toString(), 'fragmented ✓');

    ws.socket.send(BINARY.subarray(0, 100), { binary: true, fin: false });
    ws.socket.send(BINARY.subarray(100, 101), { binary: true, fin: false });
    ws.socket.send(BINARY.subarray(101), { binary: true, fin: true });
    const binary = await tidewire.messages.next();
    assert.equal(binary.isBinary, true);
    assert.deepEqual(binary.data, BINARY);
    await closeQuietly();
  },
);

matrixCase(
  {
    tidewire: 'client and ws server exchange 1 MiB of compressible text deflated on the wire both ways',
    ws: 'server and ws client exchange 1 MiB of compressible text deflated on the wire both ways',
  },
  async ({ client, server, wire, closeQuietly }) => {
    const text = 'a'.repeat(MIB);

    const readBefore = wire.bytesRead;
    client.socket.send(text, { compress: true });
    const got = await server.messages.next();
    assert.equal(got.isBinary, false);
    assert.equal(got.data.length, MIB);
    assert.ok(got.data.toString() === text, `${server.name} received different text`);
    const upWire = wire.bytesRead - readBefore;
    assert.ok(upWire < COMPRESSED_BYTES_BOUND, `${client.name} sent ${upWire} wire bytes for 1 MiB of "a": not deflated`);

    const writtenBefore = wire.bytesWritten;
    server.socket.send(text, { compress: true });
    const received = await client.messages.next();
    assert.equal(received.isBinary, false);
    assert.ok(received.data.toString() === text, `${client.name} received different text`);
    const downWire = wire.bytesWritten - writtenBefore;
    assert.ok(downWire < COMPRESSED_BYTES_BOUND, `${server.name} sent ${downWire} wire bytes for 1 MiB of "a": not deflated`);

    // Small compressed messages too (a ws peer deflates everything: threshold 0).
    for (const small of ['x', '', 'tidewire '.repeat(50)]) {
      client.socket.send(small, { compress: true });
      const echoed = await server.messages.next();
      assert.equal(echoed.data.toString(), small);
      server.socket.send(echoed.data, { binary: false, compress: true });
      assert.equal((await client.messages.next()).data.toString(), small);
    }
    await closeQuietly();
  },
);

/**
 * `closer` closes with `code` and `reason`: the other end sees both, the closer sees its code
 * echoed, both ends are clean, and the tidewire end passes through CLOSING to CLOSED.
 */
async function closeFrom(link: Link, closer: End, code: number, reason: string): Promise<void> {
  const other = closer === link.client ? link.server : link.client;
  const closerSaw = closeSeenBy(link, closer);
  const otherSaw = closeSeenBy(link, other);
  closer.socket.close(code, reason);
  if (closer === link.tidewire) assert.equal(link.tidewire.socket.readyState, WebSocket.CLOSING);
  assert.deepEqual(await otherSaw, { code, reason, wasClean: true });
  const seen = await closerSaw;
  const echoed =
    closer === link.tidewire
      ? `ws echoes the close code; the ${closer.role} reports the code it received`
      : `the ${other.role} echoes the close code (RFC 6455 §5.5.1)`;
  assert.equal(seen.code, code, echoed);
  assert.equal(seen.wasClean, true);
  assert.equal(link.tidewire.socket.readyState, WebSocket.CLOSED);
}

for (const [code, reason] of [
  [1000, 'normal bye'],
  [4000, 'client bye ✓'],
] as const) {
  matrixCase(
    {
      tidewire: `client closes with ${code} and a reason; ws server sees both and each side ends clean`,
      ws: `server sees ${code} and the reason when a ws client closes; each side ends clean`,
    },
    (link) => closeFrom(link, link.client, code, reason),
  );
  matrixCase(
    {
      tidewire: `ws server closes with ${code} and a reason; client sees both and each side ends clean`,
      ws: `server closes with ${code} and a reason; ws client sees both and each side ends clean`,
    },
    (link) => closeFrom(link, link.server, code, `server ${reason}`),
  );
}

/** The arguments of the next `event` of an end's socket. */
function nextEventOf(link: Link, end: End, event: 'ping' | 'pong'): Promise<unknown[]> {
  return end === link.tidewire ? once(link.tidewire.socket, event) : once(link.ws.socket, event);
}

/** `pinger` pings with its payload: the other end gets the ping, `pinger` the pong with the same payload. */
async function pingFrom(link: Link, pinger: End): Promise<void> {
  const other = pinger === link.client ? link.server : link.client;
  const payload = Buffer.from(pinger.library === 'tidewire' ? 'tw-ping' : 'ws-ping');
  const otherGotPing = nextEventOf(link, other, 'ping');
  const pingerGotPong = nextEventOf(link, pinger, 'pong');
  pinger.socket.ping(payload);
  assert.deepEqual((await within(otherGotPing, `${other.name} ping`))[0], payload);
  assert.deepEqual((await within(pingerGotPong, `${pinger.name} pong`))[0], payload);
}

matrixCase(
  {
    tidewire: 'client ping gets a ws pong with its payload, and a ws server ping gets a client pong',
    ws: 'server answers a ws client ping with a pong carrying its payload, and its own ping gets a pong',
  },
  async (link) => {
    await pingFrom(link, link.client);
    await pingFrom(link, link.server);
    await link.closeQuietly();
  },
);

/** Runs every case of the matrix in `direction`, each on a fresh connection; `more` adds the direction's own. */
function runMatrix(direction: Direction, more: () => void = () => {}): void {
  describe(direction.title, () => {
    before(() => direction.start());
    after(() => direction.stop());
    for (const { name, run } of CASES) {
      test(name[direction.client], TEST_TIMEOUT, async () => run(await direction.connect(), direction));
    }
    more();
  });
}

runMatrix(tidewireClientToWsServer());

runMatrix(wsClientToTidewireServer(), () => {
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
});
