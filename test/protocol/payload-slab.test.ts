import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocatePayload } from '../../src/protocol/payload-slab.js';

test('payload slab: small buffers are 8-byte aligned, of the asked length, and never overlap', () => {
  const buffers = [4096, 1, 4093, 16 * 1024, 7, 4096, 9000, 16 * 1024].flatMap((length) => [allocatePayload(length), allocatePayload(length)]);
  buffers.forEach((buffer, i) => buffer.fill(i));
  buffers.forEach((buffer, i) => {
    assert.equal(buffer.byteOffset % 8, 0);
    assert.ok(buffer.every((byte) => byte === i), `buffer ${i} was overwritten by a later one`);
  });
  assert.deepEqual(buffers.map((buffer) => buffer.length), [4096, 4096, 1, 1, 4093, 4093, 16384, 16384, 7, 7, 4096, 4096, 9000, 9000, 16384, 16384]);
});

test('payload slab: a buffer above the slab piece size gets its own memory', () => {
  const big = allocatePayload(16 * 1024 + 1);
  assert.equal(big.length, 16 * 1024 + 1);
  assert.equal(big.byteOffset, 0);
  assert.equal(big.buffer.byteLength, 16 * 1024 + 1);
});
