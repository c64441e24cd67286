import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFrame, frameHeaderLength, writeFrameHeader, type FrameHeaderFields } from '../../src/protocol/frame-writer.js';
import { decodeFrames, frame, hex, toHex } from './connection-harness.js';

function encode(fields: FrameHeaderFields, payload: Uint8Array): Buffer[] {
  const chunks: Buffer[] = [];
  encodeFrame(fields, payload, (chunk) => chunks.push(chunk));
  return chunks;
}

function header(fields: FrameHeaderFields, payloadLength: number): string {
  const target = Buffer.alloc(14);
  const length = writeFrameHeader(target, 0, fields, payloadLength);
  return toHex(target.subarray(0, length));
}

const server = (opcode: number, fin = true, rsv1 = false): FrameHeaderFields => ({ fin, rsv1, opcode, maskKey: null });

describe('writeFrameHeader', () => {
  it('writes a 7-bit length for 0 and 125 bytes', () => {
    assert.equal(header(server(0x1), 0), '81 00');
    assert.equal(header(server(0x2), 125), '82 7d');
  });

  it('writes a 16-bit length for 126 and 65535 bytes', () => {
    assert.equal(header(server(0x2), 126), '82 7e 00 7e');
    assert.equal(header(server(0x2), 65535), '82 7e ff ff');
  });

  it('writes a 64-bit length for 65536 bytes and beyond 2^32', () => {
    assert.equal(header(server(0x2), 65536), '82 7f 00 00 00 00 00 01 00 00');
    assert.equal(header(server(0x2), 2 ** 32 + 5), '82 7f 00 00 00 01 00 00 00 05');
    assert.equal(header(server(0x2), Number.MAX_SAFE_INTEGER), '82 7f 00 1f ff ff ff ff ff ff');
  });

  it('sets fin, rsv1 and the opcode in the first byte', () => {
    assert.equal(header(server(0x0, false), 3), '00 03');
    assert.equal(header(server(0x1, false, true), 3), '41 03');
    assert.equal(header(server(0xa), 0), '8a 00');
  });

  it('client header sets the mask bit and puts the key after the length', () => {
    const fields = { fin: true, rsv1: false, opcode: 0x1, maskKey: hex('37 fa 21 3d') };
    assert.equal(header(fields, 5), '81 85 37 fa 21 3d');
    assert.equal(header(fields, 300), '81 fe 01 2c 37 fa 21 3d');
    assert.equal(header(fields, 70000), '81 ff 00 00 00 00 00 01 11 70 37 fa 21 3d');
  });

  it('writes at the given offset and returns the header length', () => {
    const target = Buffer.alloc(20, 0xee);
    assert.equal(writeFrameHeader(target, 3, server(0x2), 126), 4);
    assert.equal(toHex(target.subarray(0, 8)), 'ee ee ee 82 7e 00 7e ee');
  });

  it('frameHeaderLength agrees with writeFrameHeader at every length boundary', () => {
    for (const length of [0, 1, 125, 126, 127, 65535, 65536, 2 ** 32, 2 ** 40]) {
      for (const maskKey of [null, hex('01 02 03 04')]) {
        const written = writeFrameHeader(Buffer.alloc(14), 0, { fin: true, rsv1: false, opcode: 2, maskKey }, length);
        assert.equal(frameHeaderLength(length, maskKey !== null), written, `length ${length}, masked ${maskKey !== null}`);
      }
    }
  });
});

describe('encodeFrame', () => {
  it('server encodes "Hello" unmasked as in RFC 6455 §5.7', () => {
    assert.deepEqual(encode(server(0x1), Buffer.from('Hello')), [hex('81 05 48 65 6c 6c 6f')]);
  });

  it('client encodes "Hello" with key 37 fa 21 3d as in RFC 6455 §5.7', () => {
    const chunks = encode({ fin: true, rsv1: false, opcode: 0x1, maskKey: hex('37 fa 21 3d') }, Buffer.from('Hello'));
    assert.deepEqual(chunks, [hex('81 85 37 fa 21 3d 7f 9f 4d 51 58')]);
  });

  it('client masking leaves the caller payload unchanged', () => {
    const payload = Buffer.from('Hello');
    encode({ fin: true, rsv1: false, opcode: 0x1, maskKey: hex('37 fa 21 3d') }, payload);
    assert.equal(payload.toString(), 'Hello');
  });

  it('encodes an empty payload as a bare header', () => {
    assert.deepEqual(encode(server(0x2), new Uint8Array(0)), [hex('82 00')]);
    assert.deepEqual(encode({ fin: true, rsv1: false, opcode: 0x9, maskKey: hex('01 02 03 04') }, new Uint8Array(0)), [hex('89 80 01 02 03 04')]);
  });

  it('copies a small server payload behind its header as one buffer', () => {
    const payload = Buffer.alloc(126, 7);
    const chunks = encode(server(0x2), payload);
    assert.equal(chunks.length, 1);
    assert.deepEqual(chunks[0], Buffer.concat([hex('82 7e 00 7e'), payload]));
  });

  it('emits a large server payload as header + the caller buffer, not copied', () => {
    const payload = Buffer.alloc(65536, 1);
    const chunks = encode(server(0x2), payload);
    assert.equal(chunks.length, 2);
    assert.equal(toHex(chunks[0]!), '82 7f 00 00 00 00 00 01 00 00');
    assert.equal(chunks[1], payload);
  });

  it('emits a large plain Uint8Array payload as a Buffer view of the same memory', () => {
    const backing = new Uint8Array(70000).fill(3);
    const payload = backing.subarray(100, 100 + 65535);
    const chunks = encode(server(0x2), payload);
    assert.equal(chunks.length, 2);
    assert.equal(toHex(chunks[0]!), '82 7e ff ff');
    assert.ok(Buffer.isBuffer(chunks[1]));
    assert.equal(chunks[1]!.buffer, backing.buffer);
    assert.equal(chunks[1]!.byteOffset, 100);
    assert.equal(chunks[1]!.length, 65535);
  });

  it('always copies a large client payload and masks the copy', () => {
    const payload = Buffer.alloc(65536, 0x55);
    const chunks = encode({ fin: true, rsv1: false, opcode: 0x2, maskKey: hex('ff 00 ff 00') }, payload);
    assert.equal(chunks.length, 1);
    assert.ok(payload.every((byte) => byte === 0x55), 'caller payload changed');
    const [decoded] = decodeFrames(chunks[0]!);
    assert.deepEqual(decoded!.payload, payload);
    assert.equal(chunks[0]![14], 0x55 ^ 0xff);
    assert.equal(chunks[0]![15], 0x55);
  });

  it('matches a naive encoder for any fields, payload and key (property)', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(0x0, 0x1, 0x2, 0x8, 0x9, 0xa),
        fc.oneof(fc.constant(null), fc.uint8Array({ minLength: 4, maxLength: 4 })),
        fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 70000 }).map((n) => new Uint8Array(n).fill(n & 0xff))),
        (fin, rsv1, opcode, maskKey, payload) => {
          const actual = Buffer.concat(encode({ fin, rsv1, opcode, maskKey }, payload));
          const expected = frame({ fin, rsv: rsv1 ? 0x40 : 0, opcode, payload, maskKey });
          assert.ok(actual.equals(expected));
        },
      ),
      { numRuns: 200 },
    );
  });
});
