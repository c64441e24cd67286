// Backoff: exponential ceilings with full jitter, the cap, and the reset after a stable connection
// (injected randomness and clock: nothing sleeps).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Backoff, DEFAULT_BACKOFF, fullJitterMs } from '../../src/realtime/backoff.js';

function clock(start = 0) {
  let nowMs = start;
  return { now: () => nowMs, advance: (ms: number) => void (nowMs += ms) };
}

describe('Backoff', () => {
  it('doubles the ceiling from baseMs up to capMs (random 0.5 gives half of it)', () => {
    const backoff = new Backoff({ baseMs: 100, capMs: 1000 }, () => 0.5, clock().now);
    const delays = Array.from({ length: 7 }, () => backoff.nextDelayMs());
    assert.deepEqual(delays, [50, 100, 200, 400, 500, 500, 500]);
    assert.equal(backoff.attempts, 7);
  });

  it('draws each delay uniformly from 0 up to the ceiling (full jitter)', () => {
    const draws = [0, 0.999, 0.25, 0.75];
    const backoff = new Backoff({ baseMs: 1000, capMs: 60_000 }, () => draws.shift()!, clock().now);
    assert.deepEqual([backoff.nextDelayMs(), backoff.nextDelayMs(), backoff.nextDelayMs(), backoff.nextDelayMs()], [0, 1998, 1000, 6000]);
  });

  it('uses the documented defaults: 500 ms base, 30 s cap', () => {
    assert.deepEqual(DEFAULT_BACKOFF, { baseMs: 500, capMs: 30_000, stableAfterMs: 10_000 });
    const backoff = new Backoff({}, () => 0.999_999, clock().now);
    assert.equal(backoff.nextDelayMs(), 499);
    for (let i = 0; i < 20; i += 1) backoff.nextDelayMs();
    assert.equal(backoff.nextDelayMs(), 29_999);
  });

  it('starts over once a connection stayed up stableAfterMs', () => {
    const time = clock();
    const backoff = new Backoff({ baseMs: 100, capMs: 10_000, stableAfterMs: 5000 }, () => 0.5, time.now);
    backoff.nextDelayMs();
    backoff.nextDelayMs();
    backoff.connected();
    time.advance(5000);
    assert.equal(backoff.nextDelayMs(), 50, 'stable for 5000 ms: back to the first ceiling');
    assert.equal(backoff.attempts, 1);
  });

  it('keeps growing when the connection dropped before stableAfterMs', () => {
    const time = clock();
    const backoff = new Backoff({ baseMs: 100, capMs: 10_000, stableAfterMs: 5000 }, () => 0.5, time.now);
    backoff.nextDelayMs();
    backoff.nextDelayMs();
    backoff.connected();
    time.advance(4999);
    assert.equal(backoff.nextDelayMs(), 200, 'a flapping connection does not reset the backoff');
    time.advance(60_000);
    assert.equal(backoff.nextDelayMs(), 400, 'time spent disconnected does not count as stable');
  });

  it('reset() starts over', () => {
    const backoff = new Backoff({ baseMs: 100 }, () => 0.5, clock().now);
    backoff.nextDelayMs();
    backoff.nextDelayMs();
    backoff.reset();
    assert.equal(backoff.nextDelayMs(), 50);
  });

  it('stays within [0, min(cap, base·2^attempt)) for any draw and attempt, without overflow', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 600_000 }), (draw, attempt, baseMs, capMs) => {
        const delay = fullJitterMs(() => draw, baseMs, capMs, attempt);
        const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
        return Number.isInteger(delay) && delay >= 0 && delay <= ceiling && (ceiling === 0 || delay < ceiling);
      }),
    );
  });
});
