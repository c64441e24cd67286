import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_MSGPACK_DEPTH, msgpackCodec, packValue, unpackValue } from '../../src/codecs/msgpack-codec.js';
import { subprotocolOf } from '../../src/realtime/codec.js';
import { decodeClientFrame, decodeServerFrame } from '../../src/realtime/envelope-decoder.js';
import { binaryValueArb, everyFrame } from '../realtime/envelope-arbitraries.js';

const hex = (bytes: string | Uint8Array): string => Buffer.from(bytes as Uint8Array).toString('hex');
const bytesOf = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const decodeHex = (text: string): unknown => msgpackCodec.decode(bytesOf(text));

/** `depth` arrays nested in each other around a 1. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let k = 0; k < depth; k++) value = [value];
  return value;
}

describe('msgpackCodec', () => {
  it('is the binary codec of tidewire.v1.msgpack', () => {
    assert.equal(msgpackCodec.name, 'msgpack');
    assert.equal(msgpackCodec.binary, true);
    assert.equal(subprotocolOf(msgpackCodec), 'tidewire.v1.msgpack');
  });

  it('round-trips every frame type, with bytes in the application data kept as plain Uint8Arrays', () => {
    const data = { text: 'hé 😀', bytes: new Uint8Array([0, 1, 255]), list: [1, -1, 1.5, null, true], big: 2 ** 53 - 1 };
    for (const value of [data, undefined, null]) {
      const { client, server } = everyFrame(value);
      for (const frame of client) assert.deepEqual(decodeClientFrame(msgpackCodec.decode(msgpackCodec.encode(frame))), { ok: true, frame });
      for (const frame of server) assert.deepEqual(decodeServerFrame(msgpackCodec.decode(msgpackCodec.encode(frame))), { ok: true, frame });
    }
    const bytes = (unpackValue(packValue(data)) as typeof data).bytes;
    assert.equal(Object.getPrototypeOf(bytes), Uint8Array.prototype);
  });

  it('writes plain MessagePack: shortest headers, no extensions, undefined properties left out', () => {
    // docs/protocol.md shows these encodings.
    const frame = { t: 'pub', id: 2, channel: 'room', pid: 'a:1', data: { text: 'hi' } };
    assert.equal(
      hex(msgpackCodec.encode(frame)),
      '85a174a3707562a2696402a76368616e6e656ca4726f6f6da3706964a3613a31a46461746181a474657874a26869',
    );
    assert.equal(
      hex(msgpackCodec.encode({ t: 'result', id: 2, result: { epoch: 'e1', offset: 43 } })),
      '83a174a6726573756c74a2696402a6726573756c7482a565706f6368a26531a66f66667365742b',
    );
    assert.equal(hex(msgpackCodec.encode({ t: 'ping' })), '81a174a470696e67');
    assert.equal(hex(packValue({ a: undefined, b: [undefined] })), '81a16291c0');
    assert.equal(hex(packValue(new Uint8Array([1, 2]))), 'c4020102');
    assert.equal(hex(packValue(2 ** 53 - 1)), 'cb433fffffffffffff');
  });

  it('returns encodings that later encodings do not overwrite (msgpackr packs into a shared buffer)', () => {
    const first = msgpackCodec.encode({ t: 'pong' }) as Uint8Array;
    const before = hex(first);
    for (let k = 0; k < 2000; k++) msgpackCodec.encode({ t: 'pub', channel: 'a', epoch: 'e', offset: k, data: 'x'.repeat(k % 300) });
    assert.equal(hex(first), before);
  });

  it('decodes Node Buffers, views at an offset and 64-bit integers', () => {
    const encoded = packValue({ b: new Uint8Array([7]) });
    const padded = new Uint8Array(encoded.length + 4);
    padded.set(encoded, 2);
    const view = padded.subarray(2, 2 + encoded.length);
    assert.deepEqual(msgpackCodec.decode(view), { b: new Uint8Array([7]) });
    assert.deepEqual(msgpackCodec.decode(Buffer.from(encoded)), { b: new Uint8Array([7]) });
    assert.equal(decodeHex('cf 001fffffffffffff'), 2 ** 53 - 1);
    assert.equal(decodeHex('d3 ffffffffffffffff'), -1);
  });

  it('accepts the timestamp extension', () => {
    assert.deepEqual(decodeHex('d6ff 00000001'), new Date(1000));
    assert.deepEqual(msgpackCodec.decode(msgpackCodec.encode(new Date(1_700_000_000_123))), new Date(1_700_000_000_123));
  });

  it('throws on text, empty and truncated input', () => {
    assert.throws(() => msgpackCodec.decode('{"t":"ping"}'), TypeError);
    assert.throws(() => msgpackCodec.decode(new Uint8Array(0)));
    const encoded = packValue({ t: 'pub', data: [1, 'two', new Uint8Array(3), 2 ** 40] });
    for (let length = 0; length < encoded.length; length++) {
      assert.throws(() => msgpackCodec.decode(encoded.subarray(0, length)), `prefix of ${length} bytes`);
    }
    assert.throws(() => decodeHex('dd ffffffff 01'), /ends inside/); // a count far beyond the bytes
  });

  it('throws on trailing bytes after the item', () => {
    assert.throws(() => decodeHex('81a17401 00'), /1 bytes after/);
    assert.throws(() => decodeHex('c0c0'), /after/);
  });

  it('throws on the reserved byte 0xc1 and on every extension but the timestamp', () => {
    assert.throws(() => decodeHex('c1'), /0xc1/);
    assert.throws(() => decodeHex('92 01 c1'), /0xc1/);
    const extensions = [
      'd4 00 00', // msgpackr's undefined
      'd4 72 40', // msgpackr record definition
      'c7 02 73 9101', // msgpackr Set
      'c7 03 78 92a0a0', // msgpackr RegExp
      'd5 42 0001', // msgpackr BigInt
      'd6 69 00000001', // msgpackr structured-clone reference
      'd5 ff 0000', // a timestamp of a size that does not exist
    ];
    for (const extension of extensions) assert.throws(() => decodeHex(extension), /extension/, extension);
  });

  it(`accepts nesting up to ${MAX_MSGPACK_DEPTH} and throws beyond`, () => {
    assert.deepEqual(msgpackCodec.decode(msgpackCodec.encode(nested(MAX_MSGPACK_DEPTH))), nested(MAX_MSGPACK_DEPTH));
    assert.throws(() => msgpackCodec.decode(msgpackCodec.encode(nested(MAX_MSGPACK_DEPTH + 1))), /nesting/);
    assert.throws(() => msgpackCodec.decode(new Uint8Array(100_000).fill(0x91)), /nesting/); // no stack overflow
  });

  it('round-trips any application value (property)', () => {
    fc.assert(
      fc.property(binaryValueArb, (value) => {
        assert.deepEqual(unpackValue(packValue(value)), value);
      }),
      { numRuns: 1000 },
    );
  });

  it('either decodes or throws an Error on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        try {
          msgpackCodec.decode(bytes);
        } catch (error) {
          assert.ok(error instanceof Error);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
