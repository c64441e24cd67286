// RFC 7692 permessage-deflate, modelled on Autobahn 12.x/13.x: negotiation of every parameter
// combination, compressed messages of many sizes and shapes echoed and decompressed by our own
// zlib use (with the agreed window and context, so a peer that breaks them fails here), and the
// rsv1 rules (first fragment only, never on control frames, never without the extension).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startEchoClientTarget, startEchoServer, type EchoServerTarget } from '../helpers/echo-endpoints.js';
import { Opcode, closePayload, expectFailure, forBothSides, hex, openWebSocket, parseExtensions, type RawPeer } from '../helpers/raw-peer.js';

/** The server under test, echoing, with permessage-deflate enabled. */
function startDeflateEchoServer(): Promise<EchoServerTarget> {
  return startEchoServer({ perMessageDeflate: true });
}

/** Text that compresses the way real text does. */
function prose(size: number): Buffer {
  const words = 'the quick brown fox jumps over a lazy dog while seven wizards quietly hex jumbo crates of liquor'.split(' ');
  let out = '';
  for (let i = 0; out.length < size; i++) out += `${words[(i * 7 + (i >> 3)) % words.length]} `;
  return Buffer.from(out.slice(0, size));
}

/**
 * A message with a repeat `gap` bytes back: a compressor that ignores a window smaller than the
 * gap emits a back-reference our inflater (run with the agreed window) rejects.
 */
function farRepeat(gap: number): Buffer {
  const block = randomBytes(64);
  return Buffer.concat([block, randomBytes(gap), block, prose(200)]);
}

/** Sends messages that catch a broken window or context, and checks they come back intact. */
async function exerciseWindowAndContext(peer: RawPeer): Promise<void> {
  const params = peer.deflate!.params;
  const endpointBits = peer.role === 'client' ? params.serverMaxWindowBits : params.clientMaxWindowBits;
  const first = farRepeat(endpointBits < 15 ? (1 << endpointBits) + 200 : 1000);
  await peer.expectEcho(first, { binary: true, compress: true });
  // The same message again: with context takeover both sides may reference the previous one;
  // with no_context_takeover a reference into it fails our fresh inflater.
  await peer.expectEcho(first, { binary: true, compress: true });
  await peer.expectEcho(prose(3000), { compress: true });
  await peer.expectEcho(prose(3000), { compress: true, fragmentSizes: [10, 20] });
}

// In order: the matrix (itself concurrent), then the report on window bits 8, then the rest.
describe('permessage-deflate negotiation by the server (Autobahn 13.x)', { concurrency: 1 }, () => {
  let server: EchoServerTarget;
  const declined8: string[] = [];
  const honoured8: string[] = [];
  before(async () => {
    server = await startDeflateEchoServer();
  });
  after(() => server.close());

  const serverBits = [undefined, 8, 9, 10, 11, 12, 13, 14, 15];
  const clientBits: (number | true | undefined)[] = [undefined, true, 8, 9, 10, 11, 12, 13, 14, 15];
  describe('every parameter combination', { concurrency: 8 }, () => {
    for (const sBits of serverBits) {
      for (const cBits of clientBits) {
        const bitsLabel = `server_max_window_bits=${sBits ?? 'absent'}, client_max_window_bits=${cBits === true ? 'bare' : (cBits ?? 'absent')}`;
        it(`server negotiates and honours ${bitsLabel} with each no_context_takeover combination`, async () => {
          for (const sReset of [false, true]) {
            for (const cReset of [false, true]) {
              let offer = 'permessage-deflate';
              if (sReset) offer += '; server_no_context_takeover';
              if (cReset) offer += '; client_no_context_takeover';
              if (sBits !== undefined) offer += `; server_max_window_bits=${sBits}`;
              if (cBits === true) offer += '; client_max_window_bits';
              else if (cBits !== undefined) offer += `; client_max_window_bits=${cBits}`;
              const peer = await openWebSocket(server.port, { extensions: offer });
              const answer = peer.response.get('sec-websocket-extensions');
              const elements = parseExtensions(answer);
              if (elements.length === 0 && sBits === 8) {
                declined8.push(offer); // RFC 7692 §7.1.2.1 lets a server decline what it cannot honour
                await peer.closeHandshake();
                continue;
              }
              assert.equal(elements.length, 1, `offer "${offer}" answered with "${answer}"`);
              const [element] = elements;
              assert.equal(element!.name, 'permessage-deflate');
              assert.ok(!element!.repeated);
              const p = element!.params;
              // RFC 7692 §7.1.1.1: accepting server_no_context_takeover means including it.
              if (sReset) assert.ok(p.has('server_no_context_takeover'), `"${offer}" → "${answer}"`);
              // §7.1.2.1: the same or a smaller value than offered.
              if (sBits !== undefined) assert.ok(Number(p.get('server_max_window_bits')) <= sBits, `"${offer}" → "${answer}"`);
              // §7.1.2.2: not unless offered, and no more than offered.
              if (cBits === undefined) assert.ok(!p.has('client_max_window_bits'), `"${offer}" → "${answer}"`);
              if (typeof cBits === 'number' && p.has('client_max_window_bits')) assert.ok(Number(p.get('client_max_window_bits')) <= cBits);
              if (sBits === 8) honoured8.push(`${offer} → ${answer}`);
              await exerciseWindowAndContext(peer);
              await peer.closeHandshake();
            }
          }
        });
      }
    }
  });

  it('reports whether server_max_window_bits=8 is declined or honoured', (t) => {
    t.diagnostic(`server_max_window_bits=8: declined ${declined8.length}, honoured ${honoured8.length} (e.g. ${honoured8[0] ?? declined8[0]})`);
  });

  it('server declines an offer with an invalid value and accepts the next offer (RFC 7692 §5, §7)', async () => {
    const peer = await openWebSocket(server.port, { extensions: 'permessage-deflate; server_max_window_bits=7, permessage-deflate; client_no_context_takeover' });
    const elements = parseExtensions(peer.response.get('sec-websocket-extensions'));
    assert.equal(elements.length, 1);
    assert.ok(!elements[0]!.params.has('server_max_window_bits'), peer.response.get('sec-websocket-extensions') ?? '');
    await exerciseWindowAndContext(peer);
    await peer.closeHandshake();
  });
  for (const offer of [
    'permessage-deflate; server_max_window_bits',
    'permessage-deflate; server_max_window_bits=16',
    'permessage-deflate; server_max_window_bits=010',
    'permessage-deflate; client_max_window_bits=7',
    'permessage-deflate; unknown_parameter',
    'permessage-deflate; server_no_context_takeover=1',
    'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
  ]) {
    it(`server declines the invalid offer "${offer}" and still opens without compression`, async () => {
      const peer = await openWebSocket(server.port, { extensions: offer });
      assert.equal(peer.response.get('sec-websocket-extensions'), undefined);
      await peer.expectEcho('uncompressed');
      await peer.closeHandshake();
    });
  }
  it('server accepts permessage-deflate after an unknown extension', async () => {
    const peer = await openWebSocket(server.port, { extensions: 'x-webkit-deflate-frame, permessage-deflate' });
    assert.equal(parseExtensions(peer.response.get('sec-websocket-extensions'))[0]?.name, 'permessage-deflate');
    await exerciseWindowAndContext(peer);
    await peer.closeHandshake();
  });

  // RFC 7692 §7.2.3: the examples, byte for byte.
  it('server inflates the RFC 7692 §7.2.3 example payloads', async () => {
    const peer = await openWebSocket(server.port, { extensions: 'permessage-deflate' });
    const examples: [string, Buffer][] = [
      ['7.2.3.1 one compressed block', hex('f2 48 cd c9 c9 07 00')],
      ['7.2.3.2 sharing the LZ77 window', hex('f2 00 11 00 00')],
      ['7.2.3.3 a block with no compression', hex('00 05 00 fa ff 48 65 6c 6c 6f 00')],
      ['7.2.3.5 two blocks in one message', hex('f2 48 05 00 00 00 ff ff ca c9 c9 07 00')],
    ];
    for (const [label, payload] of examples) {
      await peer.writeFrame({ opcode: Opcode.TEXT, rsv1: true, payload });
      const message = await peer.nextMessage();
      assert.equal(message.payload.toString(), 'Hello', label);
    }
    await peer.closeHandshake();
  });
  it('server inflates the RFC 7692 §7.2.3.4 example with BFINAL set', async () => {
    const peer = await openWebSocket(server.port, { extensions: 'permessage-deflate; client_no_context_takeover' });
    await peer.writeFrame({ opcode: Opcode.TEXT, rsv1: true, payload: hex('f3 48 cd c9 c9 07 00 00') });
    assert.equal((await peer.nextMessage()).payload.toString(), 'Hello');
    await peer.closeHandshake();
  });
  it('server inflates the RFC 7692 §7.2.3.6 example with an empty last fragment', async () => {
    const peer = await openWebSocket(server.port, { extensions: 'permessage-deflate' });
    await peer.writeFrames([
      { opcode: Opcode.TEXT, rsv1: true, fin: false, payload: hex('f2 48 cd c9 c9 07 00 00 00 ff ff') }, // this fragment keeps its sync-flush tail
      { opcode: Opcode.CONTINUATION, fin: true, payload: hex('00') },
    ]);
    assert.equal((await peer.nextMessage()).payload.toString(), 'Hello');
    await peer.closeHandshake();
  });
});

describe('permessage-deflate answers accepted by the client (Autobahn 13.x, client side)', { concurrency: true }, () => {
  const answers = [
    'permessage-deflate',
    'permessage-deflate; server_no_context_takeover',
    'permessage-deflate; client_no_context_takeover',
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    ...[8, 9, 10, 12, 15].map((bits) => `permessage-deflate; server_max_window_bits=${bits}`),
    ...[8, 9, 10, 12, 15].map((bits) => `permessage-deflate; client_max_window_bits=${bits}`),
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9',
    'permessage-deflate; server_max_window_bits=11; client_max_window_bits=13',
  ];
  for (const answer of answers) {
    it(`client honours "${answer}"`, async () => {
      const target = await startEchoClientTarget();
      try {
        const { peer, app } = await target.open({ extensions: answer });
        await exerciseWindowAndContext(peer);
        assert.equal((await app).extensions, answer);
        await peer.closeHandshake();
      } finally {
        await target.close();
      }
    });
  }
});

forBothSides(
  async (side) => {
    // Every connection negotiates permessage-deflate: we offer it to the server, and our raw
    // server accepts the client's offer as it stands.
    const target = side === 'server' ? await startDeflateEchoServer() : await startEchoClientTarget();
    const extensions = side === 'server' ? 'permessage-deflate; client_max_window_bits' : 'permessage-deflate';
    return { ...target, open: (options = {}) => target.open({ extensions, ...options }) };
  },
  (side, target) => {
    const open = async (): Promise<RawPeer> => {
      const { peer } = await target().open();
      assert.ok(peer.deflate !== undefined, 'permessage-deflate was negotiated');
      return peer;
    };

    // Autobahn 12.x: sizes and kinds of payload.
    for (const size of [0, 1, 125, 126, 1000, 16 * 1024, 65535, 65536, 256 * 1024, 1_000_000]) {
      it(`${side} echoes compressed text and binary of ${size} bytes`, async () => {
        const peer = await open();
        await peer.expectEcho(prose(size), { compress: true });
        await peer.expectEcho(randomBytes(size), { binary: true, compress: true });
        await peer.closeHandshake();
      });
    }
    it(`${side} echoes 200 compressed messages in a row, sharing the context`, async () => {
      const peer = await open();
      for (let i = 0; i < 200; i++) await peer.expectEcho(prose(100 + ((i * 97) % 2000)), { binary: i % 3 === 0, compress: true });
      await peer.closeHandshake();
    });
    it(`${side} echoes compressed messages in 3 fragments and in 1-byte fragments, rsv1 on the first only`, async () => {
      const peer = await open();
      await peer.expectEcho(prose(5000), { compress: true, fragmentSizes: [100, 200] });
      const small = prose(300);
      await peer.expectEcho(small, { compress: true, fragmentSizes: new Array<number>(400).fill(1) });
      await peer.closeHandshake();
    });
    it(`${side} answers a ping between the fragments of a compressed message`, async () => {
      const peer = await open();
      const frames = peer.messageFrames(prose(4000), { compress: true, fragmentSizes: [50] });
      frames.splice(1, 0, { opcode: Opcode.PING, payload: 'in the middle' });
      await peer.writeFrames(frames);
      const message = await peer.nextMessage();
      assert.ok(message.payload.equals(prose(4000)));
      const pong = message.controls[0] ?? (await peer.nextFrame());
      assert.equal(pong.opcode, Opcode.PONG);
      assert.equal(pong.payload.toString(), 'in the middle');
      await peer.closeHandshake();
    });
    it(`${side} echoes uncompressed messages on a connection that negotiated compression`, async () => {
      const peer = await open();
      await peer.expectEcho(prose(2000));
      await peer.expectEcho(prose(2000), { compress: true });
      await peer.expectEcho(randomBytes(500), { binary: true });
      await peer.closeHandshake();
    });
    it(`${side} echoes an empty message whose compressed payload is empty`, async () => {
      const peer = await open();
      await peer.writeFrame({ opcode: Opcode.TEXT, rsv1: true });
      const message = await peer.nextMessage();
      assert.equal(message.payload.length, 0);
      await peer.closeHandshake();
    });

    it(`${side} fails with 1002 on rsv1 set on a continuation frame`, async () => {
      await expectFailure(
        target(),
        async (peer) => {
          const frames = peer.messageFrames(prose(1000), { compress: true, fragmentSizes: [20] });
          frames[1]!.rsv1 = true;
          await peer.writeFrames(frames);
        },
        1002,
      );
    });
    for (const [label, opcode, payload] of [
      ['ping', Opcode.PING, Buffer.from('ping')],
      ['pong', Opcode.PONG, Buffer.from('pong')],
      ['close', Opcode.CLOSE, closePayload(1000)],
    ] as const) {
      it(`${side} fails with 1002 on rsv1 set on a ${label} frame`, async () => {
        await expectFailure(target(), (peer) => peer.writeFrame({ opcode, payload, rsv1: true }), 1002);
      });
    }
    it(`${side} fails with 1007 on compressed data that does not inflate`, async () => {
      await expectFailure(target(), (peer) => peer.writeFrame({ opcode: Opcode.BINARY, rsv1: true, payload: hex('ff ff ff ff 00 11 22') }), 1007);
    });
    it(`${side} fails with 1007 on compressed text that inflates to invalid UTF-8`, async () => {
      await expectFailure(
        target(),
        async (peer) => {
          const frames = peer.messageFrames(hex('ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64'), { compress: true });
          await peer.writeFrames(frames);
        },
        1007,
      );
    });
  },
);

describe('rsv1 without the extension', { concurrency: true }, () => {
  it('server fails with 1002 on a compressed-looking frame when permessage-deflate was not negotiated', async () => {
    const server = await startDeflateEchoServer();
    try {
      await expectFailure(server, (peer) => peer.writeFrame({ opcode: Opcode.TEXT, rsv1: true, payload: hex('f2 48 cd c9 c9 07 00') }), 1002);
    } finally {
      await server.close();
    }
  });
  it('client fails with 1002 on a compressed-looking frame when the server did not accept permessage-deflate', async () => {
    const target = await startEchoClientTarget();
    try {
      await expectFailure(target, (peer) => peer.writeFrame({ opcode: Opcode.TEXT, rsv1: true, payload: hex('f2 48 cd c9 c9 07 00') }), 1002);
    } finally {
      await target.close();
    }
  });
});
