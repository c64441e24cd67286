// What the server does with frames that are not valid requests (docs/protocol.md): a message the
// codec cannot decode closes with 1007; a decodable frame that is not a valid request gets a
// BAD_REQUEST reply when it carries a usable request id (the connection stays), and closes with
// 1008 when it does not.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { once, startRealtime, type RealtimeFixture } from './support/envelope-client.js';

async function expectClose(fixture: RealtimeFixture, send: (client: Awaited<ReturnType<RealtimeFixture['connect']>>) => void, code: number): Promise<string> {
  const client = await fixture.connect();
  const closed = once<[unknown, number]>(fixture.rt, 'sessionClosed');
  send(client);
  assert.equal((await closed)[1], code);
  const seen = await client.closed;
  assert.equal(seen.code, code);
  return seen.reason;
}

describe('bad envelopes', () => {
  test('a message the codec cannot decode closes the connection with 1007', async (t) => {
    const fixture = await startRealtime(t);
    assert.match(await expectClose(fixture, (client) => client.sendRaw('{"t":"sub",'), 1007), /undecodable json/);
    await expectClose(fixture, (client) => client.sendRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 1007); // binary, not UTF-8
    await expectClose(fixture, (client) => client.sendRaw('not json at all'), 1007);
  });

  test('decodable garbage with a request id gets a BAD_REQUEST reply, and the connection stays', async (t) => {
    const { connect } = await startRealtime(t);
    const client = await connect();
    const cases: [unknown, RegExp][] = [
      [{ t: 'sub', id: 3 }, /channel is missing/],
      [{ t: 'sub', id: 4, channel: '' }, /channel/],
      [{ t: 'pub', id: 5, channel: 'c', data: 1 }, /pid is missing/],
      [{ t: 'rpc', id: 6, method: 42, params: null }, /method/],
      [{ t: 'frobnicate', id: 7 }, /unknown frame type "frobnicate"/],
      [{ t: 'sub', id: 8, channel: 'c', since: { epoch: 'e', offset: -1 } }, /since\.offset/],
      [{ t: 'sub', id: 9, channel: 'bell\u0007' }, /control characters/],
    ];
    const replies: { t: string; id: number; error: { code: string; message: string } }[] = [];
    client.ws.on('message', (data: Buffer) => replies.push(JSON.parse(data.toString())));
    for (const [frame] of cases) client.send(frame);
    await client.roundTrip();
    assert.equal(replies.length, cases.length + 1, 'one reply each, then the pong');
    cases.forEach(([frame, reason], i) => {
      const reply = replies[i]!;
      assert.equal(reply.t, 'error');
      assert.equal(reply.id, (frame as { id: number }).id);
      assert.equal(reply.error.code, 'BAD_REQUEST');
      assert.match(reply.error.message, reason);
    });
    // Still usable, and unknown extra fields are ignored.
    const subscribed = await client.ok({ t: 'sub', channel: 'still-here', colour: 'blue' } as never);
    assert.equal(subscribed.recovered, true);
  });

  test('decodable garbage without a usable request id closes with 1008', async (t) => {
    const fixture = await startRealtime(t);
    for (const frame of [42, 'text', null, [], {}, { t: 'sub', channel: 'c' }, { t: 'sub', id: -1, channel: 'c' }, { t: 'sub', id: 1.5, channel: 'c' }, { t: 'nope' }]) {
      await expectClose(fixture, (client) => client.send(frame), 1008);
    }
    // A malformed answer carries the server's id, not a request id: no reply could be matched.
    await expectClose(fixture, (client) => client.send({ t: 'result' }), 1008);
    await expectClose(fixture, (client) => client.send({ t: 'error', id: 1, error: 'oops' }), 1008);
    await expectClose(fixture, (client) => client.send({ t: 'cancel', id: 'x' }), 1008);
  });

  test('a message over maxMessageBytes closes with 1009', async (t) => {
    const fixture = await startRealtime(t, { maxMessageBytes: 1024 });
    await expectClose(fixture, (client) => client.send({ t: 'pub', id: 1, channel: 'c', pid: 'p', data: 'x'.repeat(2000) }), 1009);
  });
});
