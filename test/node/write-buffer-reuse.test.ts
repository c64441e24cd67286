// Output buffers are pooled (src/node/write-buffer-pool.ts): a buffer goes back to the pool when
// the socket reports its write done, and the next batch of any connection may fill it. If one went
// back too early, the bytes still waiting in a slow connection's socket would be overwritten by a
// fast connection's frames. Here both run side by side, over real sockets, and every byte is checked.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionsOf, messagesOf, turns } from './support/events.js';
import { Opcode, RawClient } from './support/raw-client.js';
import { onTeardown, openClient, startServer } from './support/servers.js';

const MESSAGE_BYTES = 3 * 1024; // above the small-batch size, below the inline-frame bound: pooled
const MESSAGES_PER_TURN = 12;
const TURNS = 120;

/** Message `index`: every byte depends on the index and its position, so any overwrite shows. */
function message(index: number): Buffer {
  const data = Buffer.allocUnsafe(MESSAGE_BYTES);
  for (let i = 0; i < MESSAGE_BYTES; i++) data[i] = (index * 31 + i * 7) & 0xff;
  data.writeUInt32BE(index, 0);
  return data;
}

test('pooled output buffers are reused only after their write: a stalled and a fast connection both get every byte', async (t) => {
  const { port, url, wss } = await startServer(t, { limits: { highWaterMarkBytes: 64 * 1024 * 1024, maxBufferedBytes: 128 * 1024 * 1024 } });
  const connections = connectionsOf(wss);
  const stalled = await RawClient.connect(port, { paused: true });
  onTeardown(t, () => stalled.destroy());
  const { ws: stalledSide } = await connections.next();
  const fast = await openClient(t, url);
  const { ws: fastSide } = await connections.next();
  const fastInbox = messagesOf(fast, 'fast client');

  const total = TURNS * MESSAGES_PER_TURN;
  for (let turn = 0; turn < TURNS; turn++) {
    for (let j = 0; j < MESSAGES_PER_TURN; j++) {
      const index = turn * MESSAGES_PER_TURN + j;
      stalledSide.send(message(index));
      fastSide.send(message(total - 1 - index));
    }
    await turns(2); // the batches leave; the fast client's writes complete and their buffers return
  }
  assert.ok(stalledSide.bufferedAmount > 0, 'the stalled connection still holds written-but-unsent bytes');

  const fastReceived = await fastInbox.take(total);
  fastReceived.forEach((received, i) => assert.ok(received.data.equals(message(total - 1 - i)), `fast client, message ${i}`));

  stalled.resumeReading();
  for (let index = 0; index < total; index++) {
    const frame = await stalled.nextFrame();
    assert.equal(frame.opcode, Opcode.BINARY);
    assert.ok(frame.payload.equals(message(index)), `stalled client, message ${index} arrived intact`);
  }
});
