// RealtimeClient's pure parts on an injected clock: the state table, pending requests (bounds,
// timeouts, cancellation) and the app-level heartbeat.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClientHeartbeat } from '../../src/realtime/client-heartbeat.js';
import { canTransition, ClientState } from '../../src/realtime/client-state.js';
import type { ClientTimers } from '../../src/realtime/client-timers.js';
import { PendingRequests } from '../../src/realtime/pending-requests.js';
import { RealtimeError, RealtimeErrorCode } from '../../src/realtime/realtime-errors.js';
import { isCode } from './support/client-harness.js';

// ---- an injected clock for the pure parts ----

class FakeTimers implements ClientTimers {
  nowMs = 0;
  private readonly timers = new Map<number, { atMs: number; callback: () => void }>();
  private lastHandle = 0;

  setTimeout(callback: () => void, delayMs: number): unknown {
    this.timers.set((this.lastHandle += 1), { atMs: this.nowMs + delayMs, callback });
    return this.lastHandle;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Runs every timer due within `ms`, in time order, moving the clock as it goes. */
  advance(ms: number): void {
    const endMs = this.nowMs + ms;
    for (;;) {
      const next = [...this.timers.entries()].filter(([, timer]) => timer.atMs <= endMs).sort((a, b) => a[1].atMs - b[1].atMs)[0];
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.nowMs = next[1].atMs;
      next[1].callback();
    }
    this.nowMs = endMs;
  }
}

describe('client state machine', () => {
  it('allows exactly the documented transitions', () => {
    const states = Object.values(ClientState);
    const allowed = states.flatMap((from) => states.filter((to) => canTransition(from, to)).map((to) => `${from}->${to}`));
    assert.deepEqual(allowed, [
      'connecting->connected', 'connecting->disconnected', 'connecting->closed',
      'connected->disconnected', 'connected->closed',
      'disconnected->connecting', 'disconnected->closed',
    ]);
  });
});

describe('PendingRequests (injected clock)', () => {
  const rpc = (id: number) => ({ t: 'rpc' as const, id, method: 'm', params: null });
  const noGiveUp = { timeoutMs: 1000, onGiveUp: () => {} };

  it('rejects the new request with QUEUE_FULL at the bound and keeps the others', async () => {
    const pending = new PendingRequests(2, new FakeTimers());
    const first = pending.open(rpc(1), noGiveUp);
    void pending.open(rpc(2), noGiveUp);
    await assert.rejects(pending.open(rpc(3), noGiveUp), isCode(RealtimeErrorCode.QUEUE_FULL));
    assert.equal(pending.size, 2);
    assert.ok(pending.settle(1, null, 'one'));
    assert.equal(await first, 'one');
    assert.equal(pending.settle(1, null, 'again'), false, 'a second answer finds nothing');
  });

  it('times out with RPC_TIMEOUT and asks for a cancel only when the request was sent', async () => {
    const timers = new FakeTimers();
    const pending = new PendingRequests(10, timers);
    const cancels: number[] = [];
    const sent = pending.open(rpc(1), { timeoutMs: 100, onGiveUp: (id) => cancels.push(id) });
    const unsent = pending.open(rpc(2), { timeoutMs: 100, onGiveUp: (id) => cancels.push(id) });
    pending.markSent(1);
    timers.advance(99);
    assert.equal(pending.size, 2);
    timers.advance(1);
    await assert.rejects(sent, isCode(RealtimeErrorCode.RPC_TIMEOUT));
    await assert.rejects(unsent, isCode(RealtimeErrorCode.RPC_TIMEOUT));
    assert.deepEqual(cancels, [1]);
    assert.equal(pending.size, 0);
  });

  it('rejects with CANCELLED on abort (at once when already aborted)', async () => {
    const pending = new PendingRequests(10, new FakeTimers());
    const controller = new AbortController();
    const cancels: number[] = [];
    const call = pending.open(rpc(1), { timeoutMs: 100, signal: controller.signal, onGiveUp: (id) => cancels.push(id) });
    pending.markSent(1);
    controller.abort();
    await assert.rejects(call, isCode(RealtimeErrorCode.CANCELLED));
    assert.deepEqual(cancels, [1]);
    await assert.rejects(pending.open(rpc(2), { timeoutMs: 100, signal: controller.signal, onGiveUp: () => {} }), isCode(RealtimeErrorCode.CANCELLED));
    assert.equal(pending.size, 0);
  });

  it('on a lost connection fails the requests already sent and keeps the unsent ones, in order', async () => {
    const pending = new PendingRequests(10, new FakeTimers());
    const sent = pending.open(rpc(1), noGiveUp);
    void pending.open(rpc(2), noGiveUp);
    void pending.open(rpc(3), noGiveUp);
    pending.markSent(1);
    pending.connectionLost(new RealtimeError(RealtimeErrorCode.CONNECTION_LOST, 'dropped'));
    await assert.rejects(sent, isCode(RealtimeErrorCode.CONNECTION_LOST));
    assert.deepEqual(pending.unsent().map((frame) => frame.id), [2, 3]);
  });
});

describe('ClientHeartbeat (injected clock)', () => {
  it('pings every interval and times out when no pong comes within timeoutMs', () => {
    const timers = new FakeTimers();
    const events: string[] = [];
    const heartbeat = new ClientHeartbeat(timers, 300, () => events.push(`ping@${timers.nowMs}`), () => events.push(`timeout@${timers.nowMs}`));
    heartbeat.start(100);
    timers.advance(250);
    heartbeat.pong();
    timers.advance(500);
    // The pong at 250 answered the pings of 100 and 200; the ping of 300 is never answered.
    assert.deepEqual(events, ['ping@100', 'ping@200', 'ping@300', 'ping@400', 'ping@500', 'timeout@600']);
    timers.advance(1000);
    assert.equal(events.length, 6, 'nothing after the timeout');
  });

  it('does nothing with interval 0, and stop() ends it', () => {
    const timers = new FakeTimers();
    let pings = 0;
    const heartbeat = new ClientHeartbeat(timers, 50, () => pings++, () => assert.fail('no timeout'));
    heartbeat.start(0);
    timers.advance(1000);
    heartbeat.start(10);
    timers.advance(30);
    heartbeat.stop();
    timers.advance(1000);
    assert.equal(pings, 3);
  });
});
