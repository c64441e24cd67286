import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyMask } from '../../src/protocol/masking.js';
import { hex } from './connection-harness.js';

/** The definition in RFC 6455 §5.3: octet i is XORed with key octet (i + offset) mod 4. */
function naiveMask(data: Uint8Array, maskKey: Uint8Array, maskOffset: number): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ maskKey[(i + maskOffset) % 4]!;
  return out;
}

/** `bytes` copied into a fresh ArrayBuffer at `byteOffset`, with guard bytes on both sides. */
function placed(bytes: Uint8Array, byteOffset: number): { view: Uint8Array; backing: Uint8Array } {
  const backing = new Uint8Array(byteOffset + bytes.length + 8).fill(0xa5);
  backing.set(bytes, byteOffset);
  return { view: backing.subarray(byteOffset, byteOffset + bytes.length), backing };
}

const maskKey = fc.uint8Array({ minLength: 4, maxLength: 4 });

describe('applyMask', () => {
  it('masks the RFC 6455 §5.7 example "Hello" with key 37 fa 21 3d', () => {
    const data = Buffer.from('Hello');
    applyMask(data, hex('37 fa 21 3d'));
    assert.deepEqual(data, hex('7f 9f 4d 51 58'));
  });

  it('continues the key cycle at maskOffset (a payload unmasked piece by piece)', () => {
    const whole = hex('7f 9f 4d 51 58');
    const first = whole.subarray(0, 2);
    const rest = whole.subarray(2);
    applyMask(first, hex('37 fa 21 3d'), 0);
    applyMask(rest, hex('37 fa 21 3d'), 2);
    assert.equal(whole.toString(), 'Hello');
  });

  it('leaves an empty buffer alone', () => {
    const data = new Uint8Array(0);
    applyMask(data, hex('01 02 03 04'), 3);
    assert.equal(data.length, 0);
  });

  it('touches no byte outside the view on the word path (large, unaligned view)', () => {
    const { view, backing } = placed(new Uint8Array(1000).fill(0), 3);
    applyMask(view, hex('ff ff ff ff'));
    assert.equal(backing[2], 0xa5);
    assert.equal(backing[3 + 1000], 0xa5);
    assert.ok(view.every((byte) => byte === 0xff));
  });

  it('matches a naive byte loop at any length, byteOffset and maskOffset (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        maskKey,
        fc.integer({ min: 0, max: 7 }),
        fc.nat({ max: 1 << 20 }),
        (bytes, key, byteOffset, maskOffset) => {
          const { view, backing } = placed(bytes, byteOffset);
          applyMask(view, key, maskOffset);
          assert.deepEqual(view, naiveMask(bytes, key, maskOffset));
          assert.ok(backing.subarray(0, byteOffset).every((byte) => byte === 0xa5), 'bytes before the view changed');
          assert.ok(backing.subarray(byteOffset + bytes.length).every((byte) => byte === 0xa5), 'bytes after the view changed');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('is its own inverse at any offset and alignment (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        maskKey,
        fc.integer({ min: 0, max: 7 }),
        fc.nat({ max: 1 << 20 }),
        (bytes, key, byteOffset, maskOffset) => {
          const { view } = placed(bytes, byteOffset);
          applyMask(view, key, maskOffset);
          applyMask(view, key, maskOffset);
          assert.deepEqual(view, bytes);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('gives the same result unmasked in pieces as in one go (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), maskKey, fc.array(fc.nat(), { maxLength: 6 }), (bytes, key, rawCuts) => {
        const cuts = [...new Set(rawCuts.map((cut) => cut % bytes.length))].sort((a, b) => a - b);
        const piecewise = Buffer.from(bytes);
        let start = 0;
        for (const end of [...cuts, bytes.length]) {
          applyMask(piecewise.subarray(start, end), key, start);
          start = end;
        }
        assert.deepEqual(new Uint8Array(piecewise), naiveMask(bytes, key, 0));
      }),
      { numRuns: 300 },
    );
  });
});
