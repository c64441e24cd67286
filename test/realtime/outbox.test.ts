// Outbox: the client's bounded queue of unacknowledged publishes (order, pids, bound, resend after a
// drop, retry holds). Pure: no socket, no timer.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isRetryablePublishError, Outbox } from '../../src/realtime/outbox.js';
import { RealtimeError, RealtimeErrorCode } from '../../src/realtime/realtime-errors.js';

/** Marks every due entry sent with consecutive request ids; returns their pids. */
function sendDue(outbox: Outbox, ids: { next: number }): string[] {
  return outbox.due().map((entry) => {
    outbox.markSent(entry, (ids.next += 1));
    return entry.pid;
  });
}

describe('Outbox', () => {
  it('gives each publish a pid `${instanceId}:${sequence}` and hands them out in send order', () => {
    const outbox = new Outbox(10, 'abc');
    for (const text of ['a', 'b', 'c']) void outbox.add('chat', text);
    assert.deepEqual(outbox.due().map((entry) => [entry.pid, entry.data]), [['abc:1', 'a'], ['abc:2', 'b'], ['abc:3', 'c']]);
  });

  it('rejects the new publish with QUEUE_FULL at the bound and keeps the queued ones', async () => {
    const outbox = new Outbox(2, 'x');
    const first = outbox.add('c', 1);
    void outbox.add('c', 2);
    await assert.rejects(outbox.add('c', 3), (error: RealtimeError) => error.code === RealtimeErrorCode.QUEUE_FULL);
    assert.equal(outbox.size, 2);
    assert.deepEqual(outbox.due().map((entry) => entry.data), [1, 2]);
    const ids = { next: 0 };
    sendDue(outbox, ids);
    outbox.ack(outbox.take(1)!, { epoch: 'e', offset: 7 });
    assert.deepEqual(await first, { epoch: 'e', offset: 7 });
    void outbox.add('c', 4);
    assert.equal(outbox.size, 2, 'an ack frees a slot');
    assert.deepEqual(outbox.due().map((entry) => entry.pid), ['x:3'], 'a rejected publish takes no sequence number');
  });

  it('counts publishes in flight against the bound, not only unsent ones', async () => {
    const outbox = new Outbox(1, 'x');
    void outbox.add('c', 1);
    sendDue(outbox, { next: 0 });
    await assert.rejects(outbox.add('c', 2), { code: RealtimeErrorCode.QUEUE_FULL });
  });

  it('settles each publish once: a second reply for the same request id finds nothing', async () => {
    const outbox = new Outbox(5, 'x');
    const result = outbox.add('c', 1);
    sendDue(outbox, { next: 0 });
    const entry = outbox.take(1)!;
    outbox.ack(entry, { epoch: 'e', offset: 1 });
    assert.equal(outbox.take(1), undefined);
    assert.equal(outbox.take(99), undefined);
    assert.deepEqual(await result, { epoch: 'e', offset: 1 });
    assert.equal(outbox.size, 0);
  });

  it('after a drop sends every unacknowledged publish again, in order, with the same pids, before newer ones', () => {
    const outbox = new Outbox(10, 'x');
    const ids = { next: 0 };
    for (const n of [1, 2, 3]) void outbox.add('c', n);
    assert.deepEqual(sendDue(outbox, ids), ['x:1', 'x:2', 'x:3']);
    outbox.ack(outbox.take(2)!, { epoch: 'e', offset: 5 }); // acks may come in any order
    assert.deepEqual(outbox.due(), [], 'nothing due while in flight');
    outbox.connectionLost();
    void outbox.add('c', 4);
    assert.deepEqual(sendDue(outbox, ids), ['x:1', 'x:3', 'x:4']);
    assert.equal(outbox.take(1), undefined, 'replies on the old connection no longer match');
    assert.ok(outbox.take(5) !== undefined, 'the resent copy of x:1 is in flight as request 5');
  });

  it('holds a publish after a retryable error: the ones behind it wait until release()', () => {
    const outbox = new Outbox(10, 'x');
    const ids = { next: 0 };
    void outbox.add('c', 1);
    sendDue(outbox, ids);
    void outbox.add('c', 2);
    outbox.hold(outbox.take(1)!);
    assert.deepEqual(outbox.due(), [], 'x:2 waits behind the held x:1');
    outbox.release();
    assert.deepEqual(sendDue(outbox, ids), ['x:1', 'x:2']);
    assert.equal([...outbox.due()].length, 0);
  });

  it('fail() rejects with the error and forgets the publish; rejectAll() rejects every one in order', async () => {
    const outbox = new Outbox(10, 'x');
    const failed = outbox.add('c', 1);
    sendDue(outbox, { next: 0 });
    outbox.fail(outbox.take(1)!, new RealtimeError(RealtimeErrorCode.FORBIDDEN, 'no'));
    await assert.rejects(failed, { code: RealtimeErrorCode.FORBIDDEN });
    const order: number[] = [];
    const rest = [2, 3].map((n) => outbox.add('c', n).catch((error: RealtimeError) => order.push(n) && error.code));
    outbox.rejectAll(new RealtimeError(RealtimeErrorCode.CLIENT_CLOSED, 'closed'));
    assert.deepEqual(await Promise.all(rest), [RealtimeErrorCode.CLIENT_CLOSED, RealtimeErrorCode.CLIENT_CLOSED]);
    assert.deepEqual(order, [2, 3]);
    assert.equal(outbox.size, 0);
  });

  it('retries RATE_LIMITED and BROKER_UNAVAILABLE (sent again with the same pid); every other error rejects', () => {
    assert.deepEqual(Object.values(RealtimeErrorCode).filter(isRetryablePublishError).sort(), [RealtimeErrorCode.BROKER_UNAVAILABLE, RealtimeErrorCode.RATE_LIMITED]);
  });
});
