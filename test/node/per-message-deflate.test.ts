// PerMessageDeflate (src/node/deflate.ts) on its own: small messages answered at once on the event
// loop, big ones through the thread pool, one zlib context shared by both paths (context takeover),
// a small frame that inflates big moving to the pool mid-way, the budget per turn of the loop,
// limits, corrupt data, BFINAL blocks.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import zlib from 'node:zlib';
import { PerMessageDeflate } from '../../src/node/deflate.js';
import { LimitExceededError, PeerError } from '../../src/protocol/errors.js';
import type { DeflateParams } from '../../src/protocol/permessage-deflate.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;

const TAKEOVER: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

interface Inflated {
  error: PeerError | LimitExceededError | null;
  data: Buffer;
  /** Answered before inflate() returned. */
  atOnce: boolean;
}

/** A server-side PerMessageDeflate, closed when the test ends. */
function serverSide(t: TestContext, params: DeflateParams = TAKEOVER): PerMessageDeflate {
  const pmd = new PerMessageDeflate(params, true);
  t.after(() => pmd.close());
  return pmd;
}

function inflate(pmd: PerMessageDeflate, payload: Buffer, fin = true, maxBytes = 64 * MIB): Promise<Inflated> {
  return new Promise((resolve) => {
    let answered = false;
    let returned = false;
    const atOnce = pmd.inflate(payload, fin, maxBytes, {
      inflateDone(error, data) {
        answered = true;
        resolve({ error, data, atOnce: !returned });
      },
    });
    returned = true;
    assert.equal(atOnce, answered, 'inflate() returns true exactly when it has answered');
  });
}

function deflate(pmd: PerMessageDeflate, data: Buffer): Promise<{ data: Buffer; atOnce: boolean }> {
  return new Promise((resolve, reject) => {
    let returned = false;
    pmd.deflate(data, (error, compressed) => (error === null ? resolve({ data: compressed, atOnce: !returned }) : reject(error)));
    returned = true;
  });
}

/** A message compressed on its own, as a peer without context takeover sends it (RFC 7692 §7.2.1). */
function compressAlone(data: Buffer): Buffer {
  return zlib.deflateRawSync(data, { finishFlush: SYNC_FLUSH }).subarray(0, -4);
}

/** Compresses `messages` with one context, as a peer with context takeover does. */
async function compressWithTakeover(messages: Buffer[]): Promise<Buffer[]> {
  const deflater = zlib.createDeflateRaw({ level: 1 });
  const out: Buffer[] = [];
  for (const message of messages) {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): number => chunks.push(chunk);
    deflater.on('data', onData);
    deflater.write(message);
    await new Promise<void>((resolve) => deflater.flush(SYNC_FLUSH, () => resolve()));
    deflater.removeListener('data', onData);
    out.push(Buffer.concat(chunks).subarray(0, -4));
  }
  deflater.close();
  return out;
}

/** Decompresses `payloads` with one context, as a peer with context takeover does. */
async function inflateWithTakeover(payloads: Buffer[]): Promise<Buffer[]> {
  const inflater = zlib.createInflateRaw();
  const out: Buffer[] = [];
  for (const payload of payloads) {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): number => chunks.push(chunk);
    inflater.on('data', onData);
    inflater.write(Buffer.concat([payload, Buffer.from([0x00, 0x00, 0xff, 0xff])]));
    await new Promise<void>((resolve) => inflater.flush(() => resolve()));
    inflater.removeListener('data', onData);
    out.push(Buffer.concat(chunks));
  }
  inflater.close();
  return out;
}

function json(seq: number): Buffer {
  return Buffer.from(JSON.stringify({ seq, items: [{ id: 1, name: 'item-1', tags: ['red', 'blue'] }], pad: ' '.repeat(120) }));
}

describe('PerMessageDeflate inflation', () => {
  test('small frames are inflated at once, and the context carries over from message to message', async (t) => {
    const messages = [json(1), json(2), json(3)];
    const payloads = await compressWithTakeover(messages);
    assert.ok(payloads[2]!.length < 40, 'later messages are back-references');
    const pmd = serverSide(t);
    for (const [i, payload] of payloads.entries()) {
      const result = await inflate(pmd, payload);
      assert.equal(result.error, null);
      assert.equal(result.atOnce, true);
      assert.deepEqual(result.data, messages[i]);
    }
  });

  test('big frames go to the thread pool, and small frames after them still share the context', async (t) => {
    const big = Buffer.concat([randomBytes(40 * KIB), json(0)]);
    const messages = [json(1), big, json(2), big];
    const payloads = await compressWithTakeover(messages);
    const pmd = serverSide(t);
    const results = [];
    for (const payload of payloads) results.push(await inflate(pmd, payload));
    assert.deepEqual(results.map((r) => r.atOnce), [true, false, true, false]);
    assert.deepEqual(results.map((r) => r.data), messages);
  });

  test('a small frame that inflates past the event-loop budget finishes in the thread pool, whole', async (t) => {
    const huge = Buffer.concat([Buffer.alloc(3 * MIB, 'x'), json(9)]);
    const messages = [json(1), huge, json(2)];
    const payloads = await compressWithTakeover(messages);
    assert.ok(payloads[1]!.length < 16 * KIB);
    const pmd = serverSide(t);
    const results = [];
    for (const payload of payloads) results.push(await inflate(pmd, payload));
    assert.deepEqual(results.map((r) => r.atOnce), [true, false, true]);
    assert.deepEqual(results.map((r) => r.data), messages);
  });

  test('fragments of one message are inflated one by one with one context', async (t) => {
    const message = Buffer.from('fragmented '.repeat(100));
    const [payload] = await compressWithTakeover([message]);
    const pmd = serverSide(t);
    const first = await inflate(pmd, payload!.subarray(0, 10), false);
    const second = await inflate(pmd, payload!.subarray(10), true);
    assert.deepEqual(Buffer.concat([first.data, second.data]), message);
  });

  for (const [name, compressedSize] of [['at once', 100], ['in the thread pool', 40 * KIB]] as const) {
    test(`a frame inflating past maxBytes fails with 1009 ${name}`, async (t) => {
      const bomb = zlib.deflateRawSync(Buffer.concat([randomBytes(compressedSize), Buffer.alloc(50 * MIB)]), { finishFlush: SYNC_FLUSH });
      const pmd = serverSide(t);
      const started = Date.now();
      const result = await inflate(pmd, bomb.subarray(0, -4), true, MIB);
      assert.ok(result.error instanceof LimitExceededError);
      assert.equal(result.error.closeCode, 1009);
      assert.ok(Date.now() - started < 2000, 'stops early instead of inflating everything');
    });
  }

  test('past 2 MiB of output inflated at once in one turn of the loop, frames go to the thread pool until the next turn', async (t) => {
    const pmd = serverSide(t, { ...TAKEOVER, clientNoContextTakeover: true });
    const message = Buffer.alloc(60 * KIB, 'a');
    const frame = compressAlone(message);
    await new Promise((resolve) => setImmediate(resolve)); // a turn of its own
    const atOnce: boolean[] = [];
    for (let i = 0; i < 100; i++) {
      const result = await inflate(pmd, frame); // answered at once: still the same turn
      assert.deepEqual(result.data, message);
      atOnce.push(result.atOnce);
      if (!result.atOnce) break;
    }
    assert.equal(atOnce.indexOf(false), Math.ceil((2 * MIB) / (60 * KIB)), `answered at once: ${atOnce.join()}`);
    const next = await inflate(pmd, frame);
    assert.equal(next.atOnce, true, 'a later turn has a fresh budget');
  });

  test('corrupt data fails with 1007 at once', async (t) => {
    const pmd = serverSide(t);
    const result = await inflate(pmd, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]));
    assert.equal(result.atOnce, true);
    assert.ok(result.error instanceof PeerError);
    assert.equal(result.error.closeCode, 1007);
  });

  test('messages that end their deflate stream (BFINAL, RFC 7692 §7.2.3.4) each decode, on both paths', async (t) => {
    const pmd = serverSide(t);
    const big = randomBytes(40 * KIB);
    for (const message of [json(1), json(2), big, json(3), big]) {
      const final = zlib.deflateRawSync(message); // Z_FINISH: the last block has BFINAL set
      const result = await inflate(pmd, final);
      assert.equal(result.error, null);
      assert.deepEqual(result.data, message);
    }
  });

  test('a fragment that ends the deflate stream exactly is followed by a fragment starting a new one', async (t) => {
    const pmd = serverSide(t);
    const first = await inflate(pmd, zlib.deflateRawSync(json(1)), false);
    const second = await inflate(pmd, compressAlone(json(2)), true);
    assert.equal(second.error, null);
    assert.deepEqual(Buffer.concat([first.data, second.data]), Buffer.concat([json(1), json(2)]));
  });

  test('with client_no_context_takeover the inflater starts afresh for every message', async (t) => {
    const pmd = serverSide(t, { ...TAKEOVER, clientNoContextTakeover: true });
    for (const message of [json(1), json(1), json(2)]) {
      const result = await inflate(pmd, compressAlone(message));
      assert.deepEqual(result.data, message);
    }
  });
});

describe('PerMessageDeflate compression', () => {
  test('small messages are compressed at once and big ones in the thread pool, with one context', async (t) => {
    const big = Buffer.concat([randomBytes(20 * KIB), json(0)]);
    const messages = [json(1), json(1), big, json(2), big];
    const pmd = serverSide(t);
    const results = [];
    for (const message of messages) results.push(await deflate(pmd, message));
    assert.deepEqual(results.map((r) => r.atOnce), [true, true, false, true, false]);
    assert.ok(results[1]!.data.length < 20, 'a repeated message is a back-reference');
    assert.ok(results[4]!.data.length < 1000, 'so is a repeated big one');
    assert.deepEqual(await inflateWithTakeover(results.map((r) => r.data)), messages);
  });

  test('with server_no_context_takeover every message is compressed on its own', async (t) => {
    const pmd = serverSide(t, { ...TAKEOVER, serverNoContextTakeover: true });
    const message = json(1);
    const first = await deflate(pmd, message);
    const second = await deflate(pmd, message);
    assert.deepEqual(second.data, first.data);
    const tail = Buffer.from([0x00, 0x00, 0xff, 0xff]);
    assert.deepEqual(zlib.inflateRawSync(Buffer.concat([second.data, tail]), { finishFlush: SYNC_FLUSH }), message);
  });

  test('an empty message compresses to the single byte 0x00', async (t) => {
    const pmd = serverSide(t);
    const result = await deflate(pmd, Buffer.alloc(0));
    assert.deepEqual(result.data, Buffer.from([0x00]));
  });
});
