// RFC 6455 §8.1 text must be valid UTF-8 (RFC 3629), modelled on Autobahn 6.x: valid text of every
// code point class is echoed, every kind of invalid sequence fails with 1007, and it fails fast:
// as soon as the bytes received so far cannot start valid UTF-8, not when the message completes.

import { it } from 'node:test';
import { startEchoTarget } from '../helpers/echo-endpoints.js';
import {
  Opcode,
  encodeFrame,
  expectFailure,
  forBothSides,
  hex,
  type RawPeer,
} from '../helpers/raw-peer.js';

/** "κόσμε", the Autobahn (and Markus Kuhn) sample. */
const KOSME = hex('ce ba e1 bd b9 cf 83 ce bc ce b5');

const VALID: [string, Buffer][] = [
  ['ASCII', Buffer.from('Hello, world!')],
  ['a byte order mark U+FEFF alone', hex('ef bb bf')],
  ['U+0000', hex('00')],
  ['the Autobahn 6.2 sample', Buffer.from('Hello-µ@ßöäüàá-UTF-8!!')],
  ['κόσμε', KOSME],
  ['first 2-byte U+0080', hex('c2 80')],
  ['last 2-byte U+07FF', hex('df bf')],
  ['first 3-byte U+0800', hex('e0 a0 80')],
  ['last before surrogates U+D7FF', hex('ed 9f bf')],
  ['first after surrogates U+E000', hex('ee 80 80')],
  ['replacement character U+FFFD', hex('ef bf bd')],
  ['noncharacter U+FFFE', hex('ef bf be')],
  ['last 3-byte U+FFFF', hex('ef bf bf')],
  ['noncharacters U+FDD0..U+FDEF', Buffer.from(Array.from({ length: 32 }, (_, i) => String.fromCodePoint(0xfdd0 + i)).join(''))],
  ['first 4-byte U+10000', hex('f0 90 80 80')],
  ['noncharacter U+1FFFE', hex('f0 9f bf be')],
  ['emoji U+1F600', hex('f0 9f 98 80')],
  ['last code point U+10FFFF', hex('f4 8f bf bf')],
  ['every plane', Buffer.from(Array.from({ length: 17 }, (_, plane) => String.fromCodePoint(plane * 0x10000 + 0x41)).join(''))],
];

const INVALID: [string, Buffer][] = [
  // Autobahn 6.3.1
  ['κόσμε-edited with a surrogate inside', hex('ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64')],
  // 6.8 / 6.9.4 / 6.10.3: beyond U+10FFFF
  ['U+110000 (f4 90 80 80)', hex('f4 90 80 80')],
  ['f7 bf bf bf', hex('f7 bf bf bf')],
  ['a 5-byte sequence', hex('f8 88 80 80 80')],
  ['a 6-byte sequence', hex('fc 84 80 80 80 80')],
  // 6.12: stray continuation bytes
  ['a lone continuation byte 80', hex('80')],
  ['a lone continuation byte bf', hex('bf')],
  ['continuation bytes 80 bf 80', hex('80 bf 80')],
  ['a continuation byte between ASCII', hex('61 80 62')],
  // 6.13: lonely start bytes
  ['c0 followed by a space', hex('c0 20')],
  ['e0 followed by a space', hex('e0 20')],
  ['f0 followed by a space', hex('f0 20')],
  // 6.14 / 6.15: truncated sequences at the end
  ['a truncated 2-byte sequence', hex('c2')],
  ['a truncated 3-byte sequence', hex('e0 a0')],
  ['a truncated 4-byte sequence', hex('f0 90 80')],
  ['κόσμε with its last byte missing', hex('ce ba e1 bd b9 cf 83 ce bc ce')],
  ['concatenated truncated sequences', hex('c0 e0 80 f0 80 80 df ef bf f7 bf bf')],
  // 6.16: impossible bytes
  ['fe', hex('fe')],
  ['ff', hex('ff')],
  ['fe fe ff ff', hex('fe fe ff ff')],
  // 6.17–6.19: overlong forms
  ['overlong "/" in 2 bytes', hex('c0 af')],
  ['overlong "/" in 3 bytes', hex('e0 80 af')],
  ['overlong "/" in 4 bytes', hex('f0 80 80 af')],
  ['maximum overlong 2 bytes c1 bf', hex('c1 bf')],
  ['maximum overlong 3 bytes e0 9f bf', hex('e0 9f bf')],
  ['maximum overlong 4 bytes f0 8f bf bf', hex('f0 8f bf bf')],
  ['overlong NUL c0 80', hex('c0 80')],
  ['overlong NUL e0 80 80', hex('e0 80 80')],
  ['overlong NUL f0 80 80 80', hex('f0 80 80 80')],
  // 6.20 / 6.21: UTF-16 surrogates
  ['surrogate U+D800 (ed a0 80)', hex('ed a0 80')],
  ['surrogate U+DB7F', hex('ed ad bf')],
  ['surrogate U+DBFF', hex('ed af bf')],
  ['surrogate U+DC00', hex('ed b0 80')],
  ['surrogate U+DFFF', hex('ed bf bf')],
  ['a surrogate pair', hex('ed a0 80 ed b0 80')],
];

/** Splits bytes into fragments at every code point boundary. */
function codePointFragments(bytes: Buffer): number[] {
  const sizes: number[] = [];
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i]!;
    const size = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
    sizes.push(size);
    i += size;
  }
  return sizes;
}

/** The masked or unmasked frame `peer` would send, as bytes. */
function frameBytes(peer: RawPeer, opcode: number, payload: Buffer, fin: boolean): Buffer {
  return encodeFrame({ opcode, payload, fin, mask: peer.role === 'client' });
}

forBothSides(
  (side) => startEchoTarget(side),
  (side, target) => {
    for (const [label, bytes] of VALID) {
      it(`${side} echoes valid UTF-8: ${label}`, async () => {
        const { peer } = await target().open();
        await peer.expectEcho(bytes);
        await peer.closeHandshake();
      });
    }

    it(`${side} echoes valid text fragmented at every code point boundary (Autobahn 6.2.3)`, async () => {
      const { peer } = await target().open();
      const all = Buffer.concat(VALID.map(([, bytes]) => bytes));
      await peer.expectEcho(all, { fragmentSizes: codePointFragments(all) });
      await peer.closeHandshake();
    });
    it(`${side} echoes valid text fragmented into 1-byte frames, splitting every multi-byte character (Autobahn 6.2.4)`, async () => {
      const { peer } = await target().open();
      const all = Buffer.concat(VALID.map(([, bytes]) => bytes));
      await peer.expectEcho(all, { fragmentSizes: new Array<number>(all.length - 1).fill(1) });
      await peer.closeHandshake();
    });
    it(`${side} echoes a 4-byte character split 1+3, 2+2 and 3+1 across fragments`, async () => {
      const { peer } = await target().open();
      const emoji = hex('f0 9f 98 80');
      for (const first of [1, 2, 3]) await peer.expectEcho(Buffer.concat([hex('61'), emoji, hex('62')]), { fragmentSizes: [1 + first] });
      await peer.closeHandshake();
    });
    it(`${side} echoes every prefix of κόσμε that ends on a character boundary and fails with 1007 on one that does not (Autobahn 6.6)`, async () => {
      const { peer } = await target().open();
      for (const end of [2, 5, 7, 9, 11]) await peer.expectEcho(KOSME.subarray(0, end));
      await peer.writeFrame({ opcode: Opcode.TEXT, payload: KOSME.subarray(0, 4) });
      await peer.expectFail(1007);
    });
    it(`${side} echoes a 200 KB text of random code points from every range`, async () => {
      const { peer } = await target().open();
      let text = '';
      for (let i = 0; text.length < 100_000; i++) {
        const ranges: [number, number][] = [
          [0x20, 0x7f],
          [0x80, 0x7ff],
          [0x800, 0xd7ff],
          [0xe000, 0xffff],
          [0x10000, 0x10ffff],
        ];
        const [lo, hi] = ranges[i % ranges.length]!;
        text += String.fromCodePoint(lo + ((i * 2654435761) % (hi - lo)));
      }
      await peer.expectEcho(Buffer.from(text), { fragmentSizes: [1, 2, 3, 5, 7, 11, 13, 1000, 4097] });
      await peer.closeHandshake();
    });

    for (const [label, bytes] of INVALID) {
      it(`${side} fails with 1007 on invalid UTF-8: ${label}`, async () => {
        await expectFailure(target(), (peer) => peer.writeFrame({ opcode: Opcode.TEXT, payload: bytes }), 1007);
      });
    }
    it(`${side} fails with 1007 on invalid UTF-8 written byte by byte (Autobahn 6.3.2)`, async () => {
      await expectFailure(target(), (peer) => peer.writeFrame({ opcode: Opcode.TEXT, payload: INVALID[0]![1] }, { bytewise: true }), 1007);
    });
    it(`${side} fails with 1007 on invalid UTF-8 sent in 1-byte fragments`, async () => {
      const bytes = INVALID[0]![1];
      await expectFailure(target(), (peer) => peer.sendMessage(bytes, { fragmentSizes: new Array<number>(bytes.length - 1).fill(1) }), 1007);
    });
    it(`${side} fails with 1007 on a fragmented message whose fragments are valid only on their own`, async () => {
      // "c3" then "28": each frame alone ends mid-character or is ASCII; together they are invalid.
      await expectFailure(target(), (peer) => peer.writeFrames([{ opcode: Opcode.TEXT, payload: hex('61 c3'), fin: false }, { opcode: Opcode.CONTINUATION, payload: hex('28 62') }]), 1007);
    });
    it(`${side} fails with 1007 on a fragmented message that ends inside a character`, async () => {
      await expectFailure(target(), (peer) => peer.writeFrames([{ opcode: Opcode.TEXT, payload: hex('61 62'), fin: false }, { opcode: Opcode.CONTINUATION, payload: hex('63 e2 82') }]), 1007);
    });

    // Autobahn 6.4: fail fast. We hold the last piece back until the close frame has arrived.
    const edited = Buffer.from('edited');
    const failFastCases: [string, Buffer[]][] = [
      ['an invalid sequence in fragment 2 of 3 (Autobahn 6.4.1)', [KOSME, hex('f4 90 80 80'), edited]],
      ['an invalid sequence split across fragments 1 and 2 of 3 (Autobahn 6.4.2)', [Buffer.concat([KOSME, hex('f4')]), hex('90'), Buffer.concat([hex('80 80'), edited])]],
      ['a stray continuation byte in fragment 2 of 3', [Buffer.from('abc'), hex('80'), edited]],
      ['an overlong form begun in fragment 1 and shown invalid in fragment 2', [hex('61 e0'), hex('80'), hex('80 62')]],
      ['a surrogate begun in fragment 1 and shown invalid in fragment 2', [hex('61 ed'), hex('a0'), hex('80 62')]],
    ];
    for (const [label, [first, second, third]] of failFastCases) {
      it(`${side} fails with 1007 right after ${label}, before the last fragment is sent`, async () => {
        await target().isolate(async () => {
          const { peer } = await target().open();
          await peer.writeFrame({ opcode: Opcode.TEXT, payload: first!, fin: false });
          await peer.writeFrame({ opcode: Opcode.CONTINUATION, payload: second!, fin: false });
          await peer.expectFail(1007); // fragment 3 is never sent
          void third;
        });
      });
    }
    // Autobahn 6.4.3, 6.4.4: one frame, its payload arriving in three TCP writes.
    const chopCases: [string, Buffer[]][] = [
      ['an invalid sequence in the second TCP chop of a single frame (Autobahn 6.4.3)', [KOSME, hex('f4 90 80 80'), edited]],
      ['an invalid sequence split across TCP chops of a single frame (Autobahn 6.4.4)', [Buffer.concat([KOSME, hex('f4')]), hex('90'), Buffer.concat([hex('80 80'), edited])]],
    ];
    for (const [label, parts] of chopCases) {
      it(`${side} fails with 1007 right after ${label}, before the rest of the frame is sent`, async () => {
        await target().isolate(async () => {
          const { peer } = await target().open();
          const bytes = frameBytes(peer, Opcode.TEXT, Buffer.concat(parts), true);
          const headerLength = bytes.length - Buffer.concat(parts).length;
          const firstChop = headerLength + parts[0]!.length;
          await peer.writeRaw(bytes.subarray(0, firstChop));
          await peer.writeRaw(bytes.subarray(firstChop, firstChop + parts[1]!.length));
          await peer.expectFail(1007); // the third chop is never sent
        });
      });
    }
  },
);
