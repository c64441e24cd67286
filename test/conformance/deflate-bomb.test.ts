// permessage-deflate zip bombs (RFC 7692 §8.1 "Implementations ... should limit the size of the
// decompressed data"): ~100 KB that inflate to 100 MiB must end in 1009 quickly, with memory
// bounded by the message limit rather than by the bomb. Sequential: RSS is measured per case.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { useEchoPair } from '../helpers/echo-endpoints.js';
import { Opcode, SYNC_FLUSH_TAIL, openWebSocket, withBystander, type RawPeer } from '../helpers/raw-peer.js';

const MiB = 1024 * 1024;
const BOMB_INFLATED_BYTES = 100 * MiB;
const RSS_BUDGET_BYTES = 20 * MiB;

/** 100 MiB of zeros, deflated one MiB at a time so that building it costs us no memory. */
async function buildBomb(): Promise<{ whole: Buffer; perMiB: Buffer[] }> {
  const deflate = zlib.createDeflateRaw({ level: 9 });
  const perMiB: Buffer[] = [];
  const zeros = Buffer.alloc(MiB);
  for (let i = 0; i < BOMB_INFLATED_BYTES / MiB; i++) {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): number => chunks.push(chunk);
    deflate.on('data', onData);
    deflate.write(zeros);
    await new Promise<void>((resolve) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
    deflate.off('data', onData);
    perMiB.push(Buffer.concat(chunks));
  }
  deflate.close();
  const whole = Buffer.concat(perMiB);
  assert.ok(whole.subarray(-4).equals(SYNC_FLUSH_TAIL));
  const last = perMiB.length - 1;
  perMiB[last] = perMiB[last]!.subarray(0, -4);
  return { whole: whole.subarray(0, -4), perMiB };
}

/** Samples RSS every few milliseconds while `body` runs; returns the growth over the level before it. */
async function rssGrowthDuring(body: () => Promise<void>): Promise<number> {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 2);
  try {
    await body();
  } finally {
    clearInterval(sampler);
  }
  return Math.max(peak, process.memoryUsage.rss()) - baseline;
}

describe('zip bombs', { concurrency: 1 }, () => {
  let bomb: { whole: Buffer; perMiB: Buffer[] };
  const endpoints = useEchoPair({ server: { perMessageDeflate: true, maxPayload: MiB }, client: { maxPayload: MiB } });
  before(async () => {
    bomb = await buildBomb();
  });

  /** Sends the bomb as one frame and expects 1009 within a second, with bounded memory. */
  async function oneFrameBomb(peer: RawPeer): Promise<void> {
    await peer.expectEcho('warm up the zlib contexts '.repeat(100), { compress: true });
    const started = Date.now();
    const growth = await rssGrowthDuring(async () => {
      await peer.writeFrame({ opcode: Opcode.BINARY, rsv1: true, payload: bomb.whole });
      await peer.expectFail(1009);
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 1000, `1009 after ${elapsed} ms`);
    assert.ok(growth < RSS_BUDGET_BYTES, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
  }

  it(`the bomb is small: ${BOMB_INFLATED_BYTES / MiB} MiB deflate to about 100 KB`, () => {
    assert.ok(bomb.whole.length < 150_000, `${bomb.whole.length} bytes`);
  });

  it('server fails with 1009 on a compressed frame that inflates to 100 MiB, quickly and with bounded memory', async () => {
    await withBystander(endpoints().server.port, async () => {
      const peer = await openWebSocket(endpoints().server.port, { extensions: 'permessage-deflate' });
      assert.ok(peer.deflate);
      await oneFrameBomb(peer);
    });
  });

  it('server fails with 1009 on a fragmented bomb as soon as the inflated size passes maxPayload, answering pings until then', async () => {
    await withBystander(endpoints().server.port, async () => {
      const peer = await openWebSocket(endpoints().server.port, { extensions: 'permessage-deflate' });
      let sent = 0;
      const growth = await rssGrowthDuring(async () => {
        for (const [i, piece] of bomb.perMiB.entries()) {
          await peer.writeFrames([
            { opcode: i === 0 ? Opcode.BINARY : Opcode.CONTINUATION, rsv1: i === 0, fin: i === bomb.perMiB.length - 1, payload: piece },
            { opcode: Opcode.PING, payload: `after ${i}` },
          ]);
          sent++;
          const frame = await peer.nextFrame();
          if (frame.opcode === Opcode.CLOSE) {
            assert.equal(frame.payload.readUInt16BE(0), 1009);
            await peer.finishClosingHandshake(1009);
            return;
          }
          assert.equal(frame.opcode, Opcode.PONG);
        }
        assert.fail('the whole bomb was accepted');
      });
      assert.ok(sent <= 4, `closed only after ${sent} MiB-worth fragments`);
      assert.ok(growth < RSS_BUDGET_BYTES, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    });
  });

  it('client fails with 1009 on a compressed frame that inflates to 100 MiB, quickly and with bounded memory', async () => {
    const client = endpoints().client;
    await client.isolate(async () => {
      const { peer } = await client.open({ extensions: 'permessage-deflate' });
      await oneFrameBomb(peer);
    });
  });
});
