// The server heartbeat over real sockets (RFC 6455 §5.5.2): with heartbeatIntervalMs the server
// pings every connection and terminates those that sent nothing since the previous round, while
// a client that answers its pings stays connected.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { closeCodeOf, connectionsOf, Inbox, within } from './support/events.js';
import { Opcode, RawClient } from './support/raw-client.js';
import { onTeardown, openClient, startServer } from './support/servers.js';

const INTERVAL_MS = 200;

describe('server heartbeat', () => {
  test('server terminates a client that never answers pings within about two intervals (1006)', async (t) => {
    const { port, wss } = await startServer(t, { heartbeatIntervalMs: INTERVAL_MS });
    const connections = connectionsOf(wss);
    let opened = 0;
    wss.once('connection', () => (opened = Date.now()));
    const raw = await RawClient.connect(port); // reads, but never answers and never sends
    onTeardown(t, () => raw.destroy());
    const { ws } = await connections.next();
    const close = await closeCodeOf(ws, 'server side close of the silent client', 10 * INTERVAL_MS);
    const elapsed = Date.now() - opened;
    assert.equal(close.code, 1006);
    assert.equal(wss.clients.size, 0);
    // Rounds, not wall time, are what the heartbeat promises: one ping, then at the next round,
    // with no answer in between, the end. The time bound only has slack for a loaded machine.
    await raw.waitForEnd();
    const frames = [];
    for (;;) {
      const frame = await raw.nextFrame(100).catch(() => undefined);
      if (frame === undefined) break;
      frames.push(frame);
    }
    assert.deepEqual(frames.map((f) => f.opcode), [Opcode.PING], 'one ping, no close frame, then TCP closed');
    assert.ok(elapsed < 2 * INTERVAL_MS + 600, `terminated after ${elapsed} ms, expected about ${2 * INTERVAL_MS} ms`);
  });

  test('server keeps a client that answers pings connected across several intervals', async (t) => {
    const { url, wss } = await startServer(t, { heartbeatIntervalMs: INTERVAL_MS });
    const connections = connectionsOf(wss);
    const client = await openClient(t, url);
    const { ws } = await connections.next();
    let closed = false;
    ws.on('close', () => (closed = true));
    client.on('close', () => (closed = true));
    const pings = new Inbox<number>('pings seen by the client');
    client.on('ping', () => pings.push(Date.now()));
    const pongs = new Inbox<number>('pongs seen by the server');
    ws.on('pong', () => pongs.push(Date.now()));

    // Five rounds: a connection that missed one answer would be gone after the second.
    await pings.take(5, 10 * INTERVAL_MS);
    await pongs.take(5, 10 * INTERVAL_MS);
    assert.equal(closed, false);
    assert.equal(client.readyState, client.OPEN);
    assert.ok(wss.clients.has(ws));
    const inbox = new Promise<string>((resolve) => client.on('message', (data: Buffer) => resolve(data.toString())));
    ws.send('still connected');
    assert.equal(await within(inbox, 'message after five rounds'), 'still connected');
  });

  test('server keeps a raw client that answers each ping with a pong', async (t) => {
    const { port, wss } = await startServer(t, { heartbeatIntervalMs: INTERVAL_MS });
    const connections = connectionsOf(wss);
    const raw = await RawClient.connect(port);
    onTeardown(t, () => raw.destroy());
    const { ws } = await connections.next();
    let closed = false;
    ws.on('close', () => (closed = true));
    for (let round = 0; round < 4; round++) {
      const ping = await raw.nextFrame(10 * INTERVAL_MS);
      assert.equal(ping.opcode, Opcode.PING);
      await raw.sendFrame(Opcode.PONG, ping.payload);
    }
    assert.equal(closed, false);
    assert.equal(ws.readyState, ws.OPEN);
  });
});
