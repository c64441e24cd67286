// RFC 6455 §5.4 fragmentation, modelled on Autobahn 5.x: fragmented data messages, control frames
// between fragments, and the sequences that must fail; run against the server and the client.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { startEchoTarget } from '../helpers/echo-endpoints.js';
import { Opcode, expectFailure, forBothSides, type FrameSpec } from '../helpers/raw-peer.js';

const text = (payload: string, fin: boolean): FrameSpec => ({ opcode: Opcode.TEXT, payload, fin });
const cont = (payload: string, fin: boolean): FrameSpec => ({ opcode: Opcode.CONTINUATION, payload, fin });
const ping = (payload: string): FrameSpec => ({ opcode: Opcode.PING, payload });

forBothSides(
  (side) => startEchoTarget(side),
  (side, target) => {
    // Autobahn 5.1, 5.2: control frames MUST NOT be fragmented (RFC 6455 §5.5).
    it(`${side} fails with 1002 on a ping fragmented into 2 frames`, async () => {
      await expectFailure(
        target(),
        (peer) =>
          peer.writeFrames([
            { opcode: Opcode.PING, payload: 'frag1', fin: false },
            { opcode: Opcode.CONTINUATION, payload: 'frag2', fin: true },
          ]),
        1002,
      );
    });
    it(`${side} fails with 1002 on a pong fragmented into 2 frames`, async () => {
      await expectFailure(
        target(),
        (peer) =>
          peer.writeFrames([
            { opcode: Opcode.PONG, payload: 'frag1', fin: false },
            { opcode: Opcode.CONTINUATION, payload: 'frag2', fin: true },
          ]),
        1002,
      );
    });

    // Autobahn 5.3–5.5
    for (const [label, options] of [
      ['in one write', {}],
      ['frame by frame', { splitInto: [] as number[] }],
      ['byte by byte', { bytewise: true }],
    ] as const) {
      it(`${side} echoes a text message in 2 fragments written ${label}`, async () => {
        const { peer } = await target().open();
        const frames = [text('fragment1', false), cont('fragment2', true)];
        if (label === 'frame by frame') for (const frame of frames) await peer.writeFrame(frame);
        else await peer.writeFrames(frames, options);
        const message = await peer.nextMessage();
        assert.equal(message.opcode, Opcode.TEXT);
        assert.equal(message.payload.toString(), 'fragment1fragment2');
        await peer.closeHandshake();
      });
    }

    it(`${side} echoes a text message in 3 fragments`, async () => {
      const { peer } = await target().open();
      await peer.expectEcho('Hello, fragmented world!', { fragmentSizes: [5, 9] });
      await peer.closeHandshake();
    });
    it(`${side} echoes a binary message in 3 fragments`, async () => {
      const { peer } = await target().open();
      await peer.expectEcho(randomBytes(300), { binary: true, fragmentSizes: [100, 100] });
      await peer.closeHandshake();
    });
    it(`${side} echoes a text message in 200 fragments of 1 byte`, async () => {
      const { peer } = await target().open();
      const message = 'x'.repeat(200);
      await peer.expectEcho(message, { fragmentSizes: new Array<number>(199).fill(1) });
      await peer.closeHandshake();
    });
    it(`${side} echoes a 64 KiB binary message in 1000 fragments of varying size`, async () => {
      const { peer } = await target().open();
      const sizes = Array.from({ length: 999 }, (_, i) => (i * 37) % 120);
      await peer.expectEcho(randomBytes(65536), { binary: true, fragmentSizes: sizes });
      await peer.closeHandshake();
    });
    it(`${side} echoes an empty text message sent as 3 empty fragments`, async () => {
      const { peer } = await target().open();
      await peer.writeFrames([text('', false), cont('', false), cont('', true)]);
      const message = await peer.nextMessage();
      assert.equal(message.opcode, Opcode.TEXT);
      assert.equal(message.payload.length, 0);
      await peer.closeHandshake();
    });

    // Autobahn 5.6–5.8: a ping between fragments is answered, the message still arrives whole.
    for (const [label, bytewise] of [
      ['in one write', false],
      ['byte by byte', true],
    ] as const) {
      it(`${side} answers a ping between two text fragments written ${label}, then echoes the message`, async () => {
        const { peer } = await target().open();
        await peer.writeFrames([text('fragment1', false), ping('ping payload'), cont('fragment2', true)], { bytewise });
        const message = await peer.nextMessage();
        assert.equal(message.payload.toString(), 'fragment1fragment2');
        const pong = message.controls[0] ?? (await peer.nextFrame());
        assert.equal(pong.opcode, Opcode.PONG);
        assert.equal(pong.payload.toString(), 'ping payload');
        await peer.closeHandshake();
      });
    }
    // Autobahn 5.19, 5.20: the pong comes while the message is still open (before the last fragment is sent).
    it(`${side} answers pings while a fragmented message is still open`, async () => {
      const { peer } = await target().open();
      await peer.writeFrames([text('frag1', false), cont('frag2', false), ping('pongme 1!')]);
      const pong1 = await peer.nextFrame();
      assert.equal(pong1.opcode, Opcode.PONG);
      assert.equal(pong1.payload.toString(), 'pongme 1!');
      await peer.writeFrames([cont('frag3', false), cont('frag4', false), ping('pongme 2!')]);
      const pong2 = await peer.nextFrame();
      assert.equal(pong2.opcode, Opcode.PONG);
      assert.equal(pong2.payload.toString(), 'pongme 2!');
      await peer.writeFrame(cont('frag5', true));
      assert.equal((await peer.nextMessage()).payload.toString(), 'frag1frag2frag3frag4frag5');
      await peer.closeHandshake();
    });
    it(`${side} answers an unsolicited pong between fragments with nothing`, async () => {
      const { peer } = await target().open();
      await peer.writeFrames([text('a', false), { opcode: Opcode.PONG, payload: 'x' }, cont('b', true)]);
      const message = await peer.nextMessage();
      assert.equal(message.payload.toString(), 'ab');
      assert.deepEqual(message.controls, []);
      await peer.closeHandshake();
    });

    // Autobahn 5.9–5.14: a continuation frame with no message to continue.
    for (const fin of [true, false]) {
      for (const [label, options] of [
        ['', {}],
        [' written byte by byte', { bytewise: true }],
      ] as const) {
        it(`${side} fails with 1002 on a continuation frame with fin=${fin ? 1 : 0} and no message started${label}`, async () => {
          await expectFailure(
            target(),
            (peer) => peer.writeFrames([cont('non-continuation payload', fin), text('Hello, world!', true)], options),
            1002,
          );
        });
      }
    }
    // Autobahn 5.15: a message, then a continuation of nothing.
    it(`${side} echoes a fragmented message, then fails with 1002 on a continuation after it completed`, async () => {
      await expectFailure(
        target(),
        (peer) => peer.writeFrames([text('fragment1', false), cont('fragment2', true), cont('fragment3', false), text('fragment4', true)]),
        1002,
        ['fragment1fragment2'],
      );
    });
    // Autobahn 5.17, 5.18: a new data frame while a fragmented message is open.
    for (const opcode of [Opcode.TEXT, Opcode.BINARY]) {
      for (const fin of [true, false]) {
        it(`${side} fails with 1002 on a ${opcode === Opcode.TEXT ? 'text' : 'binary'} frame with fin=${fin ? 1 : 0} inside an open fragmented text message`, async () => {
          await expectFailure(target(), (peer) => peer.writeFrames([text('fragment1', false), { opcode, payload: 'fragment2', fin }]), 1002);
        });
      }
    }
    it(`${side} fails with 1002 on a new text frame after a fragmented message was opened and pinged`, async () => {
      await target().isolate(async () => {
        const { peer } = await target().open();
        await peer.writeFrames([text('fragment1', false), ping('p')]);
        const pong = await peer.nextFrame();
        assert.equal(pong.opcode, Opcode.PONG);
        await peer.writeFrame(text('fragment2', true));
        await peer.expectFail(1002);
      });
    });
  },
);
