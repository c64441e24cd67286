// Resuming on the application's cue: subscribe(channel, { since }) starts from a position the
// application already has (history it loaded itself), and reconnectNow() skips the rest of the
// backoff (the browser says the network is back). Real RealtimeServer, real sockets.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClientState } from '../../src/realtime/client-state.js';
import { RealtimeErrorCode } from '../../src/realtime/realtime-errors.js';
import { collect, connected, eventually, nextState, nextSubscribed, startHarness } from './support/client-harness.js';

describe('RealtimeClient subscribe(channel, { since })', () => {
  it('replays what came after the given position, then goes live: no gap, nothing before it', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0 });
    try {
      const publisher = await connected(harness.client());
      const acks = [];
      for (let n = 1; n <= 5; n += 1) acks.push(await publisher.publish('ticks', n));
      const subscriber = await connected(harness.client());
      const subscription = subscriber.subscribe('ticks', { since: { epoch: acks[1]!.epoch, offset: acks[1]!.offset } });
      const received = collect(subscription);
      const info = await nextSubscribed(subscription);
      assert.equal(info.recovered, true);
      await publisher.publish('ticks', 6);
      await eventually(() => received.length === 4, 'three replayed and one live');
      assert.deepEqual(received.map((entry) => [entry.offset, entry.data]), [[3, 3], [4, 4], [5, 5], [6, 6]]);
    } finally {
      await harness.close();
    }
  });

  it('recovered:false when history no longer reaches back to it (or the epoch is another one)', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0 }, { historySize: 3 });
    try {
      const publisher = await connected(harness.client());
      let last = await publisher.publish('ticks', 1);
      for (let n = 2; n <= 8; n += 1) last = await publisher.publish('ticks', n);
      const subscriber = await connected(harness.client());
      const tooOld = await nextSubscribed(subscriber.subscribe('ticks', { since: { epoch: last.epoch, offset: 1 } }));
      assert.deepEqual([tooOld.recovered, tooOld.offset], [false, 8]);
      const otherEpoch = await nextSubscribed(subscriber.subscribe('chat', { since: { epoch: 'an-epoch-long-gone', offset: 3 } }));
      assert.equal(otherEpoch.recovered, false);
    } finally {
      await harness.close();
    }
  });

  it('a malformed since is refused at once with BAD_REQUEST', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0 });
    try {
      const client = harness.client();
      for (const since of [{ epoch: 'e', offset: -1 }, { epoch: 'e', offset: 1.5 }, { epoch: 7, offset: 1 }]) {
        assert.throws(() => client.subscribe('ticks', { since: since as never }), { code: RealtimeErrorCode.BAD_REQUEST });
      }
    } finally {
      await harness.close();
    }
  });
});

describe('RealtimeClient reconnectNow()', () => {
  it('connects at once while waiting out a long backoff, and is a no-op while connected', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0 });
    try {
      const client = await connected(harness.client({ backoff: { baseMs: 60_000, capMs: 60_000 }, random: () => 0.99 }));
      const session = client.session;
      client.reconnectNow();
      assert.equal(client.state, ClientState.CONNECTED);
      assert.equal(client.session, session, 'still the same connection');

      const disconnected = nextState(client, ClientState.DISCONNECTED);
      harness.kill();
      const info = await disconnected;
      assert.ok((info.reconnectInMs ?? 0) > 30_000, `backoff ${info.reconnectInMs} ms`);
      const startedAt = Date.now();
      client.reconnectNow();
      await connected(client);
      assert.ok(Date.now() - startedAt < 3000, 'connected long before the backoff ended');
      assert.notEqual(client.session, session);
    } finally {
      await harness.close();
    }
  });
});
