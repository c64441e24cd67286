// RFC 6455 §5.1, §5.3 masking: a client masks every frame with a fresh unpredictable key, a server
// never masks, and each side fails the connection with 1002 on a frame masked the wrong way.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WebSocket } from '../../src/index.js';
import { useEchoPair, type EchoServerTarget } from '../helpers/echo-endpoints.js';
import {
  Opcode,
  closePayload,
  expectFailure,
  openWebSocket,
  type Frame,
  type Target,
} from '../helpers/raw-peer.js';

describe('masking', { concurrency: true }, () => {
  const endpoints = useEchoPair();
  const server = (): EchoServerTarget => endpoints().server;
  const client = (): Target<WebSocket> => endpoints().client;

  for (const [label, opcode, payload] of [
    ['text', Opcode.TEXT, Buffer.from('Hello')],
    ['binary', Opcode.BINARY, Buffer.from([1, 2, 3])],
    ['ping', Opcode.PING, Buffer.from('ping')],
    ['close', Opcode.CLOSE, closePayload(1000)],
    ['empty text', Opcode.TEXT, Buffer.alloc(0)],
  ] as const) {
    it(`server fails with 1002 on an unmasked ${label} frame`, async () => {
      await expectFailure(server(), (peer) => peer.writeFrame({ opcode, payload, mask: false }), 1002);
    });
    it(`client fails with 1002 on a masked ${label} frame from the server`, async () => {
      await expectFailure(client(), (peer) => peer.writeFrame({ opcode, payload, mask: true }), 1002);
    });
  }

  it('server fails with 1002 on an unmasked continuation after a masked first fragment', async () => {
    await expectFailure(
      server(),
      (peer) =>
        peer.writeFrames([
          { opcode: Opcode.TEXT, payload: 'frag1', fin: false },
          { opcode: Opcode.CONTINUATION, payload: 'frag2', mask: false },
        ]),
      1002,
    );
  });

  it('server accepts a frame masked with the all-zero key (masked, the key is only unpredictable)', async () => {
    const peer = await openWebSocket(server().port);
    await peer.writeFrame({ opcode: Opcode.TEXT, payload: 'zero key', mask: Buffer.alloc(4) });
    assert.equal((await peer.nextMessage()).payload.toString(), 'zero key');
    await peer.closeHandshake();
  });

  it('server never masks its frames (checked on every frame this suite receives)', async () => {
    const peer = await openWebSocket(server().port);
    await peer.expectEcho('hello');
    await peer.writeFrame({ opcode: Opcode.PING, payload: 'p' });
    const pong = await peer.nextFrame();
    assert.equal(pong.masked, false);
    const close = await peer.closeHandshake();
    assert.equal(close.frame.masked, false);
  });

  it('client masks every frame with a fresh key: data, fragments, pong and close', async () => {
    const { peer, app } = await client().open();
    const frames: Frame[] = [];
    for (let i = 0; i < 40; i++) frames.push(...(await peer.expectEcho(`message ${i}`)).frames);
    frames.push(...(await peer.expectEcho(Buffer.alloc(70_000, 7), { binary: true })).frames);
    await peer.writeFrame({ opcode: Opcode.PING, payload: 'ping' });
    frames.push(await peer.nextFrame());
    const ws = await app;
    ws.close(1000);
    frames.push((await peer.expectClose(1000)).frame);
    await peer.finishClosingHandshake(1000);
    assert.ok(frames.every((frame) => frame.masked), 'every client frame is masked');
    const keys = frames.map((frame) => frame.maskKey!.toString('hex'));
    assert.equal(new Set(keys).size, keys.length, 'no mask key repeats');
    assert.ok(!keys.includes('00000000'), 'no all-zero key');
  });
});
