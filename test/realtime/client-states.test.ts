// RealtimeClient's connection states and close codes against a real RealtimeServer: the state
// events, backoff decided by the close code, 1013 reconnects, the heartbeat through a proxy.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { ClientState } from '../../src/realtime/client-state.js';
import { RealtimeError, RealtimeErrorCode } from '../../src/realtime/realtime-errors.js';
import { collect, connected, eventually, isCode, nextState, nextSubscribed, startHarness } from './support/client-harness.js';

describe('RealtimeClient connection states and close codes', () => {
  it('emits connecting → connected → disconnected → connecting → connected → closed; close() rejects what waits with CLIENT_CLOSED', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0 });
    try {
      const events: string[] = [];
      const client = harness.client({ random: () => 0.5, backoff: { baseMs: 40 } });
      client.on('state', (state, info) => events.push(state === 'disconnected' ? `${state}:${info.code}:${info.reconnectInMs}` : state));
      assert.equal(client.state, ClientState.CONNECTING);
      await connected(client);
      harness.kill();
      await nextState(client, ClientState.CONNECTED);
      harness.blocked.add('*');
      harness.kill();
      await nextState(client, ClientState.DISCONNECTED);
      const publish = client.publish('chat', { from: 'a', text: 'never' });
      const call = client.call('add', { a: 1, b: 1 });
      client.close();
      await assert.rejects(publish, isCode(RealtimeErrorCode.CLIENT_CLOSED));
      await assert.rejects(call, isCode(RealtimeErrorCode.CLIENT_CLOSED));
      assert.equal(client.state, ClientState.CLOSED);
      // The second connection did not stay up stableAfterMs (10 s): the backoff kept growing.
      assert.deepEqual(events, ['connected', 'disconnected:1006:20', 'connecting', 'connected', 'disconnected:1006:40', 'closed']);
      assert.throws(() => client.subscribe('chat'), isCode(RealtimeErrorCode.CLIENT_CLOSED));
      await assert.rejects(client.publish('chat', { from: 'a', text: 'late' }), isCode(RealtimeErrorCode.CLIENT_CLOSED));
    } finally {
      await harness.close();
    }
  });

  it('1006 (refused handshakes): reconnects with full-jitter backoff growing to the cap', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0 });
    try {
      harness.blocked.add('*');
      const client = harness.client({ random: () => 0.5, backoff: { baseMs: 10, capMs: 80 } });
      const delays: Array<number | undefined> = [];
      client.on('state', (state, info) => {
        if (state === ClientState.DISCONNECTED) {
          assert.equal(info.code, 1006);
          delays.push(info.reconnectInMs);
          if (delays.length === 6) harness.blocked.clear();
        }
      });
      await connected(client);
      assert.deepEqual(delays, [5, 10, 20, 40, 40, 40]);
    } finally {
      await harness.close();
    }
  });

  it('1013 (slow consumer): reconnects and recovers what it missed', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0, maxOutboundBytes: 0 });
    try {
      const client = await connected(harness.client({ random: () => 0.5 }));
      const subscription = client.subscribe('room');
      await nextSubscribed(subscription);
      const received = collect(subscription);
      const closes: number[] = [];
      client.on('state', (state, info) => state === ClientState.DISCONNECTED && closes.push(info.code!));
      const big = 'x'.repeat(32 * 1024); // the replay of all five stays under the client's 1 MiB message limit
      for (let n = 0; n < 5; n += 1) void harness.rt.publish('room', `${n}${big}`);
      await eventually(() => received.length === 5, 'all five, after the reconnect');
      assert.ok(closes.includes(1013), `closed with 1013 (got ${closes.join(', ')})`);
      assert.deepEqual(received.map((entry) => entry.data[0]), ['0', '1', '2', '3', '4']);
    } finally {
      await harness.close();
    }
  });

  it('an offline queue far past the server\'s rate-limit burst is delivered in full and in order, none rejected (in-flight window, 1013 reconnects)', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0, rateLimit: { ratePerSecond: 200, burst: 10 } });
    try {
      const client = harness.client({ maxInFlightPublishes: 8 });
      const states: string[] = [];
      client.on('state', (state) => states.push(state));
      const publishes = Array.from({ length: 120 }, (_, i) => client.publish('chat', { from: 'a', text: String(i) }));
      const acks = await Promise.all(publishes);
      const offsets = acks.map((ack) => ack.offset);
      assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), 'acked in send order');
      const history = await harness.broker.history('chat');
      assert.deepEqual(history.publications.map((p) => (p.data as { text: string }).text), Array.from({ length: 120 }, (_, i) => String(i)));
      // Under a limit this tight the server may still close with 1013 now and then (its abuse rule
      // does not know the client's window); the client then reconnects with its queue: nothing is lost.
      assert.equal(states.at(-1), ClientState.CONNECTED, states.join(' → '));
      client.close();
    } finally {
      await harness.close();
    }
  });

  it('1013 (rate-limit abuse) reconnects with the unacknowledged publishes kept', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0, rateLimit: { ratePerSecond: 1, burst: 2 } });
    try {
      const client = await connected(harness.client({ random: () => 0 }));
      const disconnected = nextState(client, ClientState.DISCONNECTED);
      const calls = Array.from({ length: 10 }, () => client.call('noop' as 'add', { a: 0, b: 0 }).catch((error: RealtimeError) => error.code));
      assert.equal((await disconnected).code, 1013);
      assert.ok((await Promise.all(calls)).includes(RealtimeErrorCode.RATE_LIMITED));
      await nextState(client, ClientState.CONNECTED);
      client.close();
    } finally {
      await harness.close();
    }
  });

  it('1001 (server shutdown) reconnects', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 0 });
    const client = await connected(harness.client({ random: () => 0 }));
    const disconnected = nextState(client, ClientState.DISCONNECTED);
    await harness.rt.close();
    assert.equal((await disconnected).code, 1001);
    await harness.close();
    assert.equal(client.state, ClientState.CLOSED);
  });

  it('heartbeat: no pong within timeoutMs (the network went silent) → drops the connection and reconnects', async () => {
    const harness = await startHarness({ heartbeatIntervalMs: 50 });
    const proxy = await startProxy(new URL(harness.url).port);
    try {
      const client = await connected(harness.client({ path: `ws://127.0.0.1:${proxy.port}/realtime`, heartbeat: { timeoutMs: 150 } }));
      const first = client.session;
      proxy.silence();
      const info = await nextState(client, ClientState.DISCONNECTED);
      assert.equal(info.code, 1006);
      assert.match(info.reason ?? '', /no pong/);
      await nextState(client, ClientState.CONNECTED);
      assert.notEqual(client.session, first);
    } finally {
      proxy.close();
      await harness.close();
    }
  });
});

/** A TCP proxy whose current connections can be silenced: bytes are swallowed, sockets stay open. */
async function startProxy(targetPort: string): Promise<{ port: number; silence(): void; close(): void }> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket; silent: boolean }>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(targetPort), '127.0.0.1');
    const pair = { client, upstream, silent: false };
    pairs.add(pair);
    client.on('data', (chunk) => pair.silent || upstream.write(chunk));
    upstream.on('data', (chunk) => pair.silent || client.write(chunk));
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', () => pair.silent || end()).on('error', () => pair.silent || end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    silence: () => {
      for (const pair of pairs) pair.silent = true;
    },
    close: () => {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      server.close();
    },
  };
}
