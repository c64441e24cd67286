// Encoded sizes in bytes, json / msgpack / proto, measured when this codec was written (the
// "reports the encoded sizes" test prints them again; no threshold is asserted):
//   ping                       12 /    8 /    2
//   hello                      70 /   54 /   22
//   client pub (small object) 103 /   76 /   56
//   server pub (small object) 108 /   81 /   54
//   pub ack (result)           64 /   45 /   30
//   sub result, 3 pubs        424 /  313 /  300   (the result is one MessagePack value inside proto)
//   server pub, 1 KiB bytes  8172 / 1074 / 1050   (JSON has no bytes: a Uint8Array becomes an object)
// Protobuf wins on envelope fields (tags instead of key names); on application data it is
// MessagePack plus a length prefix.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { envelopeProto } from '../../src/codecs/envelope-proto.js';
import { msgpackCodec } from '../../src/codecs/msgpack-codec.js';
import { protobufCodec } from '../../src/codecs/protobuf-codec.js';
import { jsonCodec, subprotocolOf, type Codec } from '../../src/realtime/codec.js';
import { decodeClientFrame, decodeServerFrame } from '../../src/realtime/envelope-decoder.js';
import { EnvelopeLimits } from '../../src/realtime/envelope-limits.js';
import { everyFrame } from '../realtime/envelope-arbitraries.js';

const PROTO_FILE = new URL('../../src/codecs/envelope.proto', import.meta.url);
const PROTO_MODULE = new URL('../../src/codecs/envelope-proto.ts', import.meta.url);

/** The text of envelope-proto.ts for a given envelope.proto. */
function renderProtoModule(proto: string): string {
  const escaped = proto.replace(/[`\\]|\$\{/g, (match) => `\\${match}`);
  return (
    '// GENERATED from envelope.proto (test/codecs/protobuf-codec.test.ts fails when they differ): the\n' +
    '// schema as a string, so the protobuf codec needs no file system and bundles for browsers.\n\n' +
    `export const envelopeProto = \`${escaped}\`;\n`
  );
}

const hex = (bytes: string | Uint8Array): string => Buffer.from(bytes as Uint8Array).toString('hex');
const bytesOf = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const Envelope = protobuf.parse(envelopeProto).root.lookupType('tidewire.v1.Envelope');

describe('envelope.proto', () => {
  it('is embedded unchanged in envelope-proto.ts (TIDEWIRE_WRITE_PROTO=1 regenerates it)', () => {
    const proto = readFileSync(PROTO_FILE, 'utf8');
    if (process.env.TIDEWIRE_WRITE_PROTO === '1') writeFileSync(PROTO_MODULE, renderProtoModule(proto));
    assert.equal(envelopeProto, proto, 'envelope-proto.ts is stale: run this test with TIDEWIRE_WRITE_PROTO=1');
    assert.equal(readFileSync(PROTO_MODULE, 'utf8'), renderProtoModule(proto));
  });

  it('has one oneof member per frame type of envelope.ts', () => {
    const members = Envelope.oneofs['frame']?.fieldsArray.map((field) => field.name).sort();
    assert.deepEqual(members, [
      'cancel', 'error', 'hello', 'join', 'leave', 'ping', 'pong', 'presence', 'pub', 'publication', 'result', 'rpc', 'sub', 'unsub', 'unsubscribed',
    ]);
  });
});

describe('protobufCodec', () => {
  it('is the binary codec of tidewire.v1.proto', () => {
    assert.equal(protobufCodec.name, 'proto');
    assert.equal(protobufCodec.binary, true);
    assert.equal(subprotocolOf(protobufCodec), 'tidewire.v1.proto');
  });

  it('round-trips every frame type with application data of every kind, bytes included', () => {
    const values: unknown[] = [
      { text: 'hé 😀', bytes: new Uint8Array([0, 1, 255]), list: [1, -1, 1.5, null, true] },
      new Uint8Array([9, 8, 7]),
      null,
      0,
      '',
      [],
      {},
      undefined,
    ];
    for (const data of values) {
      const { client, server } = everyFrame(data);
      for (const frame of client) assert.deepEqual(decodeClientFrame(protobufCodec.decode(protobufCodec.encode(frame))), { ok: true, frame });
      for (const frame of server) assert.deepEqual(decodeServerFrame(protobufCodec.decode(protobufCodec.encode(frame))), { ok: true, frame });
    }
  });

  it('keeps optional fields apart from their defaults: presence false, empty strings, absent userId and info', () => {
    const frames: unknown[] = [
      { t: 'sub', id: 0, channel: 'a', presence: false },
      { t: 'sub', id: 0, channel: 'a', since: { epoch: 'e', offset: 0 } },
      { t: 'join', channel: 'a', member: { clientId: 'c' } },
      { t: 'join', channel: 'a', member: { clientId: 'c', info: null } },
      { t: 'error', id: 0, error: { code: 'X', message: '' } },
      { t: 'error', id: 0, error: { code: 'X', message: '', details: null } },
    ];
    for (const frame of frames) assert.deepEqual(protobufCodec.decode(protobufCodec.encode(frame)), frame);
  });

  it('carries integers up to 2^53-1; larger uint64 values reach the decoder as unsafe and are rejected', () => {
    const max = EnvelopeLimits.maxInteger;
    const frame = { t: 'pub', channel: 'a', epoch: 'e', offset: max, data: 1 };
    assert.deepEqual(decodeServerFrame(protobufCodec.decode(protobufCodec.encode(frame))), { ok: true, frame });
    // Envelope.cancel = Cancel { id = 2^64 - 1 }
    const huge = protobufCodec.decode(bytesOf('3a0b 08 ffffffffffffffffff01'));
    assert.equal(decodeClientFrame(huge).ok, false);
  });

  it('writes the documented bytes for a small frame', () => {
    // docs/protocol.md shows these encodings.
    const publish = { t: 'pub', id: 2, channel: 'room', pid: 'a:1', data: { text: 'hi' } };
    assert.equal(hex(protobufCodec.encode(publish)), '1a1808021204726f6f6d1a03613a31220981a474657874a26869');
    const publication = { t: 'pub', channel: 'room', epoch: 'e1', offset: 43, data: { text: 'hi' } };
    assert.equal(hex(protobufCodec.encode(publication)), '5a170a04726f6f6d12026531182b220981a474657874a26869');
    const ack = { t: 'result', id: 2, result: { epoch: 'e1', offset: 43 } };
    assert.equal(hex(protobufCodec.encode(ack)), '42160802121282a565706f6368a26531a66f66667365742b');
    assert.equal(hex(protobufCodec.encode({ t: 'ping' })), '2a00');
    assert.equal(hex(protobufCodec.encode({ t: 'pong' })), '7a00');
  });

  it('ignores unknown fields (a newer peer may add some)', () => {
    const encoded = protobufCodec.encode({ t: 'cancel', id: 5 }) as Uint8Array;
    const withUnknown = new Uint8Array([...encoded, 0xa0, 0x06, 0x01]); // field 100, varint 1
    assert.deepEqual(protobufCodec.decode(withUnknown), { t: 'cancel', id: 5 });
  });

  it('throws on text, on an envelope without a frame and on malformed bytes', () => {
    assert.throws(() => protobufCodec.decode('{"t":"ping"}'), TypeError);
    assert.throws(() => protobufCodec.decode(new Uint8Array(0)), /no frame/);
    assert.throws(() => protobufCodec.decode(bytesOf('a00601')), /no frame/); // only an unknown field
    const encoded = protobufCodec.encode({ t: 'pub', id: 1, channel: 'room', pid: 'a:1', data: [1, 2] }) as Uint8Array;
    for (let length = 1; length < encoded.length; length++) {
      assert.throws(() => protobufCodec.decode(encoded.subarray(0, length)), `prefix of ${length} bytes`);
    }
    assert.throws(() => protobufCodec.decode(bytesOf('0f')), 'wire type 7');
    assert.throws(() => protobufCodec.decode(bytesOf('0801')), 'a message field sent as a varint');
    // Publish { data = 0xc1 }: the application bytes are not MessagePack.
    assert.throws(() => protobufCodec.decode(bytesOf('1a03 2201c1')), /0xc1/);
    // Publish { data = 0x01 0x02 }: trailing bytes after the MessagePack item.
    assert.throws(() => protobufCodec.decode(bytesOf('1a04 22020102')), /after/);
  });

  it('either decodes or throws an Error on random bytes, and the decoder never throws on what it decodes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
        let value: unknown;
        try {
          value = protobufCodec.decode(bytes);
        } catch (error) {
          assert.ok(error instanceof Error);
          return;
        }
        decodeClientFrame(value);
        decodeServerFrame(value);
      }),
      { numRuns: 5000 },
    );
  });

  it('reports the encoded sizes of typical frames (see the comment at the top)', (t) => {
    const data = { user: 'ann', text: 'hello there' };
    const frames: Record<string, unknown> = {
      ping: { t: 'ping' },
      'server pub': { t: 'pub', channel: 'chat:lobby', epoch: 'k2j4h6', offset: 1042, data },
      'pub 1 KiB bytes': { t: 'pub', channel: 'files', epoch: 'k2j4h6', offset: 7, data: new Uint8Array(1024) },
    };
    const codecs: Codec[] = [jsonCodec, msgpackCodec, protobufCodec];
    for (const [name, frame] of Object.entries(frames)) {
      const sizes = codecs.map((codec) => {
        const encoded = codec.encode(frame);
        return typeof encoded === 'string' ? Buffer.byteLength(encoded) : encoded.length;
      });
      t.diagnostic(`${name}: ${sizes.join(' / ')} bytes (json / msgpack / proto)`);
    }
  });
});
