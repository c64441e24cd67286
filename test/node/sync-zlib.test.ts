// Synchronous zlib on a persistent stream (src/node/sync-zlib.ts): available on this Node, the
// same bytes as zlib's own functions, a context kept across calls, output bigger than the scratch
// buffer, the early stop, and corrupt input.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import zlib from 'node:zlib';
import { SyncZlibOutput, syncZlibSupported, writeSync } from '../../src/node/sync-zlib.js';

const SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

function run(stream: zlib.InflateRaw | zlib.DeflateRaw, input: Buffer, stopAfterBytes = Infinity): { used: number; output: Buffer } {
  const output = new SyncZlibOutput();
  const used = writeSync(stream, input, SYNC_FLUSH, output, stopAfterBytes);
  return { used, output: output.take() };
}

describe('sync zlib', () => {
  test('is supported on the Node that runs the tests (the fast path is really taken)', () => {
    assert.equal(syncZlibSupported(), true);
  });

  test('deflates to bytes zlib inflates back, keeping the context from one message to the next', (t) => {
    const deflater = zlib.createDeflateRaw();
    t.after(() => deflater.close());
    const message = Buffer.from('{"type":"tick","items":[1,2,3],"ok":true} '.repeat(4));
    const first = run(deflater, message).output;
    const second = run(deflater, message).output;
    assert.ok(second.length < first.length / 3, `second message ${second.length} B should be a back-reference (first ${first.length} B)`);
    assert.deepEqual(first.subarray(-4), TAIL);
    const inflater = zlib.createInflateRaw();
    t.after(() => inflater.close());
    assert.deepEqual(run(inflater, first).output, message);
    assert.deepEqual(run(inflater, second).output, message);
  });

  test('inflates output far bigger than its scratch buffer in one call', (t) => {
    const data = Buffer.concat([randomBytes(100 * 1024), Buffer.alloc(300 * 1024, 'a')]);
    const inflater = zlib.createInflateRaw();
    t.after(() => inflater.close());
    const { used, output } = run(inflater, zlib.deflateRawSync(data, { finishFlush: SYNC_FLUSH }));
    assert.deepEqual(output, data);
    assert.ok(used > 0);
  });

  test('stops once the output passes stopAfterBytes, reporting the input not yet used', (t) => {
    const compressed = zlib.deflateRawSync(Buffer.alloc(1024 * 1024), { finishFlush: SYNC_FLUSH });
    const inflater = zlib.createInflateRaw();
    t.after(() => inflater.close());
    const output = new SyncZlibOutput();
    const used = writeSync(inflater, compressed, SYNC_FLUSH, output, 100 * 1024);
    assert.ok(output.total > 100 * 1024 && output.total < 1024 * 1024, `stopped at ${output.total} bytes`);
    assert.ok(used < compressed.length);
  });

  test('throws on corrupt data and leaves the stream destroyed', (t) => {
    const inflater = zlib.createInflateRaw();
    inflater.on('error', () => {});
    t.after(() => inflater.close());
    assert.throws(() => run(inflater, Buffer.from([0xff, 0xff, 0xff, 0xff])), /invalid/i);
    assert.equal(inflater.destroyed, true);
    assert.throws(() => run(inflater, TAIL), /closed/);
  });
});
