// zlib contexts that carry nothing between messages (no context takeover) are freed once idle, and
// the next message gets a fresh one: real zlib, real timers, the bytes checked both ways.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import zlib from 'node:zlib';
import type { LimitExceededError, PeerError } from '../../src/protocol/errors.js';
import type { DeflateParams } from '../../src/protocol/permessage-deflate.js';
import { PerMessageDeflate } from '../../src/node/deflate.js';
import { IDLE_CONTEXT_RELEASE_MS } from '../../src/node/idle-zlib-contexts.js';

const SYNC_FLUSH_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const MESSAGE = Buffer.from(JSON.stringify({ type: 'tick', values: Array.from({ length: 40 }, (_, i) => i * 3) }));

function params(overrides: Partial<DeflateParams>): DeflateParams {
  return { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15, ...overrides };
}

function deflate(pmd: PerMessageDeflate, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => pmd.deflate(data, (error, out) => (error === null ? resolve(out) : reject(error))));
}

function inflate(pmd: PerMessageDeflate, compressed: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pmd.inflate(compressed, true, 1024 * 1024, {
      inflateDone: (error: PeerError | LimitExceededError | null, data: Buffer) => (error === null ? resolve(data) : reject(error)),
    });
  });
}

/** What a peer without context takeover sends for `data` (RFC 7692 §7.2.1). */
function peerDeflate(data: Buffer): Buffer {
  return zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
}

function readBack(compressed: Buffer): Buffer {
  return zlib.inflateRawSync(Buffer.concat([compressed, SYNC_FLUSH_TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
}

test('idle zlib contexts without context takeover are freed and made afresh; with takeover they are kept', async (t) => {
  const ownReset = new PerMessageDeflate(params({ serverNoContextTakeover: true }), true);
  const peerReset = new PerMessageDeflate(params({ clientNoContextTakeover: true }), true);
  const takeover = new PerMessageDeflate(params({}), true);
  t.after(() => [ownReset, peerReset, takeover].forEach((pmd) => pmd.close()));

  assert.ok(readBack(await deflate(ownReset, MESSAGE)).equals(MESSAGE));
  assert.ok((await inflate(peerReset, peerDeflate(MESSAGE))).equals(MESSAGE));
  assert.ok(readBack(await deflate(takeover, MESSAGE)).equals(MESSAGE));
  assert.deepEqual([ownReset.heldContexts, peerReset.heldContexts, takeover.heldContexts], [1, 1, 1]);

  // Freed within two sweeps of the timer (a context idle for less than the period at a sweep waits for the next).
  await new Promise((resolve) => setTimeout(resolve, 2 * IDLE_CONTEXT_RELEASE_MS + 200));
  assert.equal(ownReset.heldContexts, 0, 'our deflater, reset after every message, was freed');
  assert.equal(peerReset.heldContexts, 0, "the inflater of a peer that resets every message was freed");
  assert.equal(takeover.heldContexts, 1, 'a deflater with context takeover keeps its window');

  assert.ok(readBack(await deflate(ownReset, MESSAGE)).equals(MESSAGE), 'the next message compresses on a fresh context');
  assert.ok((await inflate(peerReset, peerDeflate(MESSAGE))).equals(MESSAGE), 'and inflates on one');
  const second = await deflate(takeover, MESSAGE);
  assert.ok(second.length < peerDeflate(MESSAGE).length, 'the kept window still shortens a repeated message');
});
