// RFC 6455 §5.2–§5.6 framing, modelled on Autobahn 1.x (data frames), 2.x (pings and pongs),
// 3.x (reserved bits) and 4.x (reserved opcodes); run against the server and against the client.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { startEchoTarget } from '../helpers/echo-endpoints.js';
import {
  Opcode,
  closePayload,
  encodeFrame,
  expectFailure,
  forBothSides,
  randomChunks,
  seededRandom,
  type RawPeer,
} from '../helpers/raw-peer.js';

function payloadOf(kind: 'text' | 'binary', size: number): Buffer {
  if (kind === 'binary') return randomBytes(size);
  const letters = 'abcdefghijklmnopqrstuvwxyz0123456789 ';
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = letters.charCodeAt(i % letters.length);
  return out;
}

function headerLength(peer: RawPeer, size: number): number {
  return 2 + (size < 126 ? 0 : size < 65536 ? 2 : 8) + (peer.role === 'client' ? 4 : 0);
}

const SIZES = [0, 125, 126, 127, 128, 65535, 65536, 1_000_000];
const RESERVED_OPCODES = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15];

forBothSides(
  (side) => startEchoTarget(side),
  (side, target) => {
    // Autobahn 1.1.x / 1.2.x
    for (const kind of ['text', 'binary'] as const) {
      const binary = kind === 'binary';
      for (const size of SIZES) {
        it(`${side} echoes ${kind} of ${size} bytes written in one piece`, async () => {
          const { peer } = await target().open();
          await peer.expectEcho(payloadOf(kind, size), { binary });
          await peer.closeHandshake();
        });

        const chopped = size <= 128 ? 'byte by byte' : 'with the header byte by byte and the payload in 997-byte chops';
        it(`${side} echoes ${kind} of ${size} bytes written ${chopped}`, async () => {
          const { peer } = await target().open();
          const split = size <= 128 ? { bytewise: true } : { splitInto: [...Array<number>(headerLength(peer, size)).fill(1), ...Array<number>(Math.ceil(size / 997)).fill(997)] };
          await peer.expectEcho(payloadOf(kind, size), { binary, ...split });
          await peer.closeHandshake();
        });

        const seed = (size * 31 + (binary ? 7 : 3)) >>> 0;
        it(`${side} echoes ${kind} of ${size} bytes written in random chunks (seed ${seed})`, async () => {
          const { peer } = await target().open();
          const total = headerLength(peer, size) + size;
          const chunks = randomChunks(total, size > 10_000 ? 4000 : 16, seededRandom(seed));
          await peer.expectEcho(payloadOf(kind, size), { binary, splitInto: chunks });
          await peer.closeHandshake();
        });
      }
    }

    it(`${side} echoes two messages written in one TCP write`, async () => {
      const { peer } = await target().open();
      await peer.writeFrames([...peer.messageFrames('first'), ...peer.messageFrames(Buffer.from([1, 2, 3]), { binary: true })]);
      assert.equal((await peer.nextMessage()).payload.toString(), 'first');
      assert.deepEqual([...(await peer.nextMessage()).payload], [1, 2, 3]);
      await peer.closeHandshake();
    });

    // Autobahn 2.x
    const pingCases: [string, Buffer][] = [
      ['without payload', Buffer.alloc(0)],
      ['with a text payload', Buffer.from('Hello, world!')],
      ['with a binary payload', Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])],
      ['with a 125-byte payload', randomBytes(125)],
    ];
    for (const [label, payload] of pingCases) {
      it(`${side} answers a ping ${label} with a pong carrying the same payload`, async () => {
        const { peer } = await target().open();
        await peer.writeFrame({ opcode: Opcode.PING, payload });
        const pong = await peer.nextFrame();
        assert.equal(pong.opcode, Opcode.PONG);
        assert.deepEqual(pong.payload, payload);
        await peer.closeHandshake();
      });
    }

    it(`${side} answers a 125-byte ping written byte by byte`, async () => {
      const { peer } = await target().open();
      const payload = randomBytes(125);
      await peer.writeFrame({ opcode: Opcode.PING, payload }, { bytewise: true });
      const pong = await peer.nextFrame();
      assert.equal(pong.opcode, Opcode.PONG);
      assert.deepEqual(pong.payload, payload);
      await peer.closeHandshake();
    });

    for (const bytewise of [false, true]) {
      it(`${side} answers 10 pings written ${bytewise ? 'byte by byte' : 'in one write'} with 10 pongs in order`, async () => {
        const { peer } = await target().open();
        const payloads = Array.from({ length: 10 }, (_, i) => Buffer.from(`payload-${i}`));
        await peer.writeFrames(
          payloads.map((payload) => ({ opcode: Opcode.PING, payload })),
          { bytewise },
        );
        for (const payload of payloads) {
          const pong = await peer.nextFrame();
          assert.equal(pong.opcode, Opcode.PONG);
          assert.deepEqual(pong.payload, payload);
        }
        await peer.closeHandshake();
      });
    }

    it(`${side} fails with 1002 on a ping with a 126-byte payload`, async () => {
      await expectFailure(target(), (peer) => peer.writeFrame({ opcode: Opcode.PING, payload: randomBytes(126) }), 1002);
    });

    it(`${side} fails with 1002 on a close frame with a 126-byte payload`, async () => {
      await expectFailure(target(), (peer) => peer.writeFrame({ opcode: Opcode.CLOSE, payload: closePayload(1000, 'x'.repeat(124)) }), 1002);
    });

    for (const [label, payload] of [['without payload', Buffer.alloc(0)], ['with payload', Buffer.from('unsolicited')]] as const) {
      it(`${side} ignores an unsolicited pong ${label}`, async () => {
        const { peer } = await target().open();
        await peer.writeFrame({ opcode: Opcode.PONG, payload });
        assert.deepEqual(await peer.barrier(), [], 'nothing is sent in answer to a pong');
        await peer.expectEcho('still open');
        await peer.closeHandshake();
      });
    }

    it(`${side} answers only the ping after an unsolicited pong`, async () => {
      const { peer } = await target().open();
      await peer.writeFrames([
        { opcode: Opcode.PONG, payload: 'unsolicited' },
        { opcode: Opcode.PING, payload: 'solicited' },
      ]);
      const pong = await peer.nextFrame();
      assert.equal(pong.opcode, Opcode.PONG);
      assert.equal(pong.payload.toString(), 'solicited');
      assert.deepEqual(await peer.barrier(), []);
      await peer.closeHandshake();
    });

    // Autobahn 3.x: RSV values 1..7 as Autobahn numbers them (4 = rsv1, 2 = rsv2, 1 = rsv3).
    const rsv = (value: number): { rsv1: boolean; rsv2: boolean; rsv3: boolean } => ({
      rsv1: (value & 4) !== 0,
      rsv2: (value & 2) !== 0,
      rsv3: (value & 1) !== 0,
    });
    it(`${side} fails with 1002 on a text frame with rsv3 set (Autobahn 3.1)`, async () => {
      await expectFailure(target(), (peer) => peer.writeFrame({ opcode: Opcode.TEXT, payload: 'Hello', ...rsv(1) }), 1002);
    });
    it(`${side} echoes a text, then fails with 1002 on a text with rsv2 set, ignoring the ping after it (Autobahn 3.2)`, async () => {
      await expectFailure(
        target(),
        (peer) =>
          peer.writeFrames([
            { opcode: Opcode.TEXT, payload: 'Hello' },
            { opcode: Opcode.TEXT, payload: 'Hello', ...rsv(2) },
            { opcode: Opcode.PING, payload: 'Hello' },
          ]),
        1002,
        [Buffer.from('Hello')],
      );
    });
    it(`${side} fails with 1002 on rsv 3 sent frame by frame after an echo (Autobahn 3.3)`, async () => {
      await target().isolate(async () => {
        const { peer } = await target().open();
        await peer.expectEcho('Hello');
        await peer.writeFrame({ opcode: Opcode.TEXT, payload: 'Hello', ...rsv(3) });
        await peer.writeFrame({ opcode: Opcode.PING, payload: 'Hello' });
        await peer.expectFail(1002);
      });
    });
    it(`${side} fails with 1002 on rsv 4 with everything written byte by byte (Autobahn 3.4)`, async () => {
      await expectFailure(
        target(),
        (peer) =>
          peer.writeFrames(
            [
              { opcode: Opcode.TEXT, payload: 'Hello' },
              { opcode: Opcode.TEXT, payload: 'Hello', ...rsv(4) },
              { opcode: Opcode.PING, payload: 'Hello' },
            ],
            { bytewise: true },
          ),
        1002,
        [Buffer.from('Hello')],
      );
    });
    it(`${side} fails with 1002 on a binary frame with rsv 5 (Autobahn 3.5)`, async () => {
      await expectFailure(target(), (peer) => peer.writeFrame({ opcode: Opcode.BINARY, payload: randomBytes(8), ...rsv(5) }), 1002);
    });
    it(`${side} fails with 1002 on a ping with rsv 6 (Autobahn 3.6)`, async () => {
      await expectFailure(target(), (peer) => peer.writeFrame({ opcode: Opcode.PING, payload: 'Hello', ...rsv(6) }), 1002);
    });
    it(`${side} fails with 1002 on a close frame with rsv 7 (Autobahn 3.7)`, async () => {
      await expectFailure(target(), (peer) => peer.writeFrame({ opcode: Opcode.CLOSE, payload: closePayload(1000), ...rsv(7) }), 1002);
    });
    it(`${side} fails with 1002 on a text frame with rsv1 set when no extension was negotiated`, async () => {
      await expectFailure(target(), (peer) => peer.writeFrame({ opcode: Opcode.TEXT, payload: 'Hello', rsv1: true }), 1002);
    });

    // Autobahn 4.x
    for (const opcode of RESERVED_OPCODES) {
      it(`${side} fails with 1002 on reserved opcode ${opcode}`, async () => {
        await expectFailure(target(), (peer) => peer.writeFrame({ opcode }), 1002);
      });
      it(`${side} echoes a text, then fails with 1002 on reserved opcode ${opcode} with a payload, ignoring the ping after it`, async () => {
        await expectFailure(
          target(),
          (peer) =>
            peer.writeFrames([
              { opcode: Opcode.TEXT, payload: 'Hello' },
              { opcode, payload: randomBytes(10) },
              { opcode: Opcode.PING, payload: 'Hello' },
            ]),
          1002,
          [Buffer.from('Hello')],
        );
      });
    }
    for (const opcode of [5, 13]) {
      it(`${side} fails with 1002 on reserved opcode ${opcode} with everything written byte by byte`, async () => {
        await expectFailure(
          target(),
          (peer) =>
            peer.writeFrames(
              [
                { opcode: Opcode.TEXT, payload: 'Hello' },
                { opcode, payload: 'Hello' },
                { opcode: Opcode.PING, payload: 'Hello' },
              ],
              { bytewise: true },
            ),
          1002,
          [Buffer.from('Hello')],
        );
      });
    }

    // RFC 6455 §5.2: "the most significant bit MUST be 0" of a 64-bit length.
    it(`${side} fails with 1002 on a 64-bit length with the most significant bit set`, async () => {
      await expectFailure(
        target(),
        async (peer) => {
          const frame = encodeFrame({ opcode: Opcode.BINARY, declaredLength: (1n << 63n) + 5n, mask: peer.role === 'client' });
          await peer.writeRaw(frame);
        },
        1002,
      );
    });
  },
);
