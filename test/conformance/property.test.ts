// Properties over real sockets (fast-check): any sequence of messages, fragmented and interleaved
// with pings, and cut at any TCP boundary, is echoed exactly; and no sequence of bytes after a
// valid handshake can do more than close that one connection with a valid code.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { WebSocket } from '../../src/index.js';
import { startEchoServer, useEchoPair } from '../helpers/echo-endpoints.js';
import {
  Opcode,
  describeFrame,
  encodeFrame,
  isValidWireCode,
  openWebSocket,
  parseClosePayload,
  withTimeout,
  type FrameSpec,
  type RawPeer,
  type Target,
} from '../helpers/raw-peer.js';

interface MessageCase {
  binary: boolean;
  text: string;
  bytes: Uint8Array;
  fragments: number[];
  /** A ping sent before the last fragment of this message. */
  ping: Uint8Array | null;
}

const messageArb: fc.Arbitrary<MessageCase> = fc.record({
  binary: fc.boolean(),
  text: fc.string({ unit: 'binary', maxLength: 400 }),
  bytes: fc.uint8Array({ maxLength: 3000 }),
  fragments: fc.array(fc.nat(500), { maxLength: 6 }),
  ping: fc.option(fc.uint8Array({ maxLength: 125 }), { nil: null }),
});

/** Fragment payload sizes as the arbitrary gave them, cut to the payload. */
function fragmentSizes(payloadLength: number, wanted: number[]): number[] {
  const sizes: number[] = [];
  let left = payloadLength;
  for (const size of wanted) {
    if (left <= 0) break;
    sizes.push(Math.min(size, left));
    left -= Math.min(size, left);
  }
  return sizes;
}

/** One message's frame cut into fragments of the given payload sizes, rsv1 kept on the first only. */
function cutIntoFragments(first: FrameSpec, payload: Buffer, sizes: number[]): FrameSpec[] {
  const pieces: Buffer[] = [];
  let offset = 0;
  for (const size of sizes) {
    pieces.push(payload.subarray(offset, offset + size));
    offset += size;
  }
  if (offset < payload.length || pieces.length === 0) pieces.push(payload.subarray(offset));
  return pieces.map((piece, i) => ({
    opcode: i > 0 ? Opcode.CONTINUATION : first.opcode,
    rsv1: i === 0 && first.rsv1 === true,
    fin: i === pieces.length - 1,
    payload: piece,
  }));
}

function framesFor(peer: RawPeer, message: MessageCase): { frames: FrameSpec[]; payload: Buffer } {
  const payload = message.binary ? Buffer.from(message.bytes) : Buffer.from(message.text, 'utf8');
  const frames = peer.messageFrames(payload, { binary: message.binary, fragmentSizes: fragmentSizes(payload.length, message.fragments) });
  if (message.ping !== null) frames.splice(frames.length - 1, 0, { opcode: Opcode.PING, payload: message.ping });
  return { frames, payload };
}

/** Writes every message's frames as one byte stream cut at `cuts`, then reads the echoes and pongs. */
async function echoesEverything(target: Target<WebSocket>, messages: MessageCase[], cuts: number[]): Promise<void> {
  const { peer } = await target.open();
  const built = messages.map((message) => framesFor(peer, message));
  const stream = Buffer.concat(built.flatMap(({ frames }) => frames.map((frame) => peer.encode(frame))));
  await peer.writeRaw(stream, { splitInto: cuts });
  const pongs: string[] = [];
  for (const [i, { payload }] of built.entries()) {
    const echo = await peer.nextMessage();
    pongs.push(...echo.controls.map((frame) => frame.payload.toString('hex')));
    assert.equal(echo.opcode, messages[i]!.binary ? Opcode.BINARY : Opcode.TEXT);
    assert.ok(echo.payload.equals(payload), `message ${i}: ${echo.payload.length} bytes back, ${payload.length} sent`);
  }
  pongs.push(...(await peer.barrier()).map((frame) => frame.payload.toString('hex')));
  const pings = messages.filter((m) => m.ping !== null).map((m) => Buffer.from(m.ping!).toString('hex'));
  assert.deepEqual(pongs, pings);
  await peer.closeHandshake();
}

/** Bytes that are sometimes frames (valid or subtly not) and sometimes noise. */
function garbageArb(mask: boolean): fc.Arbitrary<Buffer> {
  const frameArb = fc
    .record({
      fin: fc.boolean(),
      rsv1: fc.boolean(),
      rsv2: fc.constantFrom(false, false, false, true),
      opcode: fc.constantFrom(0, 1, 2, 8, 9, 10, 0, 1, 2, 3, 11),
      masked: fc.constantFrom(mask, mask, mask, !mask),
      payload: fc.uint8Array({ maxLength: 130 }),
    })
    .map((f) => encodeFrame({ fin: f.fin, rsv1: f.rsv1, rsv2: f.rsv2, opcode: f.opcode, payload: f.payload, mask: f.masked }));
  const noise = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((bytes) => Buffer.from(bytes));
  return fc.array(fc.oneof(frameArb, frameArb, noise), { minLength: 1, maxLength: 6 }).map((parts) => Buffer.concat(parts));
}

/** Reads what the endpoint sends after `garbage` until TCP closes: every frame well formed, any close code valid. */
async function survivesGarbage(peer: RawPeer): Promise<void> {
  for (;;) {
    let frame;
    try {
      frame = await peer.nextFrame(3000);
    } catch (error) {
      if (peer.reader.ended && peer.reader.length === 0) return; // TCP closed between frames
      throw error;
    }
    if (frame.opcode === Opcode.CLOSE) {
      const { code, reason } = parseClosePayload(frame.payload);
      assert.ok(code === undefined || isValidWireCode(code), `close code ${code} in ${describeFrame(frame)}`);
      assert.ok(reason.length === 0 || Buffer.from(reason.toString('utf8')).equals(reason), 'the close reason is UTF-8');
    }
  }
}

describe('properties', { concurrency: true }, () => {
  const clientCloses: number[] = [];
  const endpoints = useEchoPair({
    onEndpoint: (ws, side) => {
      if (side === 'client') ws.on('close', (code: number) => clientCloses.push(code));
    },
  });

  it('server echoes any sequence of compressed and uncompressed messages, fragmented and cut at any TCP boundary', async () => {
    const deflateServer = await startEchoServer({ perMessageDeflate: true });
    const offers = ['permessage-deflate', 'permessage-deflate; client_no_context_takeover; server_no_context_takeover', 'permessage-deflate; server_max_window_bits=9; client_max_window_bits=10'];
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...offers),
          fc.array(fc.record({ message: messageArb, compress: fc.boolean(), repeat: fc.nat(3) }), { minLength: 1, maxLength: 8 }),
          fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 40 }),
          async (offer, items, cuts) => {
            const peer = await openWebSocket(deflateServer.port, { extensions: offer });
            assert.ok(peer.deflate);
            const frames: FrameSpec[] = [];
            const payloads: Buffer[] = [];
            for (const { message, compress, repeat } of items) {
              // Repeating text gives the compressor something to reach back for.
              const payload = message.binary ? Buffer.from(message.bytes) : Buffer.from(message.text.repeat(repeat + 1), 'utf8');
              payloads.push(payload);
              // Cut the (compressed) payload into the arbitrary's fragment sizes: the compressed
              // size is only known after compressing, so compress once and cut that.
              const [whole] = peer.messageFrames(payload, { binary: message.binary, compress });
              const bytes = Buffer.from(whole!.payload as Uint8Array);
              frames.push(...cutIntoFragments(whole!, bytes, fragmentSizes(bytes.length, message.fragments)));
            }
            await peer.writeRaw(Buffer.concat(frames.map((frame) => peer.encode(frame))), { splitInto: cuts });
            for (const [i, payload] of payloads.entries()) {
              const echo = await peer.nextMessage();
              assert.ok(echo.payload.equals(payload), `message ${i}: ${echo.payload.length} bytes back, ${payload.length} sent`);
            }
            await peer.closeHandshake();
          },
        ),
        { numRuns: 60 },
      );
    } finally {
      await deflateServer.close();
    }
  });

  for (const [side, runs] of [
    ['server', 100],
    ['client', 60],
  ] as const) {
    const target = (): Target<WebSocket> => endpoints()[side];

    it(`${side} echoes any message sequence, fragmented, pinged and cut at any TCP boundary`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(messageArb, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 60 }), (messages, cuts) =>
          echoesEverything(target(), messages, cuts),
        ),
        { numRuns: runs },
      );
    });

    it(`${side} survives any bytes after the handshake: a valid close code or a TCP close, and others keep being served`, async () => {
      await target().isolate(async () => {
        await fc.assert(
          fc.asyncProperty(garbageArb(side === 'server'), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 20 }), async (garbage, cuts) => {
            const { peer } = await target().open();
            await peer.writeRaw(garbage, { splitInto: cuts });
            // End our side: the endpoint must not wait for more (RFC 6455 §7.1.1 and its EOF handling).
            peer.socket.end();
            await survivesGarbage(peer);
            await withTimeout(peer.reader.waitForEnd(3000), 4000, 'the TCP close');
          }),
          { numRuns: runs * 2 },
        );
      });
      if (side === 'client') {
        for (const code of clientCloses) assert.ok(code === 1005 || code === 1006 || isValidWireCode(code), `client reported ${code}`);
      }
    });
  }
});
