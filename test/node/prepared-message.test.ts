// prepareMessage + sendPrepared: one frame, written to many server-side connections.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { prepareMessage, prepareMessages } from '../../src/node/prepared-message.js';
import { InvalidStateError } from '../../src/protocol/errors.js';

describe('prepareMessage / sendPrepared', () => {
  it('server sends one prepared text and one binary message to three clients, each receiving both once and intact', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeatIntervalMs: 0 });
    await once(wss, 'listening');
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    try {
      const clients = [new WebSocket(url), new WebSocket(url), new WebSocket(url)];
      const received = clients.map(() => [] as { text: string; isBinary: boolean }[]);
      clients.forEach((client, i) => client.on('message', (data: Buffer, isBinary: boolean) => received[i]!.push({ text: data.toString(), isBinary })));
      await Promise.all(clients.map((client) => once(client, 'open')));
      while (wss.clients.size < 3) await new Promise((resolve) => setTimeout(resolve, 5));
      const text = prepareMessage('héllo '.repeat(5000), false); // over 16 KiB: header and payload stay separate buffers
      const binary = prepareMessage(Uint8Array.from([1, 2, 3]), true);
      for (const ws of wss.clients) {
        assert.equal(ws.sendPrepared(text), true);
        assert.equal(ws.sendPrepared(binary), true);
      }
      while (received.some((messages) => messages.length < 2)) await new Promise((resolve) => setTimeout(resolve, 5));
      for (const messages of received) {
        assert.deepEqual(messages, [
          { text: 'héllo '.repeat(5000), isBinary: false },
          { text: '\u0001\u0002\u0003', isBinary: true },
        ]);
      }
      assert.throws(() => clients[0]!.sendPrepared(binary), InvalidStateError, 'client frames must be masked');
      clients.forEach((client) => client.close());
      await Promise.all(clients.map((client) => once(client, 'close')));
    } finally {
      await new Promise((resolve) => wss.close(resolve));
    }
  });

  it('prepareMessages frames several messages into one buffer, byte for byte what prepareMessage makes of each', () => {
    const messages = ['a', 'héllo', Uint8Array.from([1, 2, 3]), 'x'.repeat(200), new Uint8Array(70_000).fill(7), ''];
    const together = prepareMessages(messages);
    const apart = messages.map((message) => prepareMessage(message, typeof message !== 'string'));
    assert.equal(together.chunks.length, 1);
    assert.deepEqual(together.chunks[0], Buffer.concat(apart.flatMap((prepared) => prepared.chunks)));
    assert.equal(together.payloadBytes, apart.reduce((sum, prepared) => sum + prepared.payloadBytes, 0));
  });
});
