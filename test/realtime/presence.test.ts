// Presence over real sockets: subscriptions with `presence: true` make a session a member of the
// channel (with the userId and info from authenticate), the other members see join and leave
// events, `presence` requests list the members, and a closed session is gone from every channel.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PresenceMember, SubscribeResult } from '../../src/realtime/envelope.js';
import { startRealtime } from './support/envelope-client.js';

const ids = (members: PresenceMember[]): string[] => members.map((member) => member.clientId).sort();

describe('presence', () => {
  test('join, leave and members across several sessions; a closed session is gone', async (t) => {
    const { connect } = await startRealtime(t, {
      authenticate: (_req, token) => ({ userId: token ?? 'anonymous', info: { nick: `nick-${token}` } }),
    });
    const ada = await connect({ query: '?token=ada' });
    const bob = await connect({ query: '?token=bob' });
    const eve = await connect({ query: '?token=eve' });
    const [A, B, E] = [ada.hello.session, bob.hello.session, eve.hello.session];

    const first: SubscribeResult = await ada.ok({ t: 'sub', channel: 'room', presence: true });
    assert.deepEqual(first.members, [{ clientId: A, userId: 'ada', info: { nick: 'nick-ada' } }]);
    const second: SubscribeResult = await bob.ok({ t: 'sub', channel: 'room', presence: true });
    assert.deepEqual(ids(second.members!), [A, B].sort());
    const joined = await ada.next('join', (frame) => frame.member.clientId === B);
    assert.deepEqual(joined, { t: 'join', channel: 'room', member: { clientId: B, userId: 'bob', info: { nick: 'nick-bob' } } });

    // A plain subscriber is not a member and gets no presence events, but may ask who is there.
    const plain: SubscribeResult = await eve.ok({ t: 'sub', channel: 'room' });
    assert.equal(plain.members, undefined);
    assert.deepEqual(ids(await eve.ok({ t: 'presence', channel: 'room' })), [A, B].sort());

    await bob.ok({ t: 'unsub', channel: 'room' });
    assert.deepEqual((await ada.next('leave', (frame) => frame.member.clientId === B)).channel, 'room');
    assert.deepEqual(ids(await eve.ok({ t: 'presence', channel: 'room' })), [A]);

    await bob.ok({ t: 'sub', channel: 'room', presence: true });
    await ada.next('join', (frame) => frame.member.clientId === B);
    ada.ws.terminate(); // gone without a goodbye
    await bob.next('leave', (frame) => frame.member.clientId === A);
    assert.deepEqual(ids(await eve.ok({ t: 'presence', channel: 'room' })), [B]);
    await eve.roundTrip();
    assert.deepEqual(eve.pending('join').concat(eve.pending('leave')), [], 'no presence events for a plain subscriber');
    assert.ok(!ids(await eve.ok({ t: 'presence', channel: 'room' })).includes(E));
  });

  test('a session is a member of each channel it joined, and leaves them all when it closes', async (t) => {
    const { rt, connect } = await startRealtime(t);
    const watcher = await connect();
    const member = await connect();
    await watcher.ok({ t: 'sub', channel: 'a', presence: true });
    await watcher.ok({ t: 'sub', channel: 'b', presence: true });
    await member.ok({ t: 'sub', channel: 'a', presence: true });
    await member.ok({ t: 'sub', channel: 'b', presence: true });
    const M = member.hello.session;
    await watcher.next('join', (frame) => frame.channel === 'a' && frame.member.clientId === M);
    await watcher.next('join', (frame) => frame.channel === 'b' && frame.member.clientId === M);
    const closed = new Promise((resolve) => rt.once('sessionClosed', resolve));
    member.close();
    await closed;
    const leaves = [await watcher.next('leave'), await watcher.next('leave')];
    assert.deepEqual(leaves.map((frame) => [frame.channel, frame.member.clientId]).sort(), [['a', M], ['b', M]]);
    assert.deepEqual(ids(await watcher.ok({ t: 'presence', channel: 'a' })), [watcher.hello.session]);
  });

  test('membership outlives the presence TTL while the session lives (it is refreshed)', async (t) => {
    const { connect } = await startRealtime(t, { presenceTtlMs: 30 });
    const member = await connect();
    const other = await connect();
    await member.ok({ t: 'sub', channel: 'ttl', presence: true });
    await new Promise((resolve) => setTimeout(resolve, 120)); // four TTLs
    assert.deepEqual(ids(await other.ok({ t: 'presence', channel: 'ttl' })), [member.hello.session]);
  });

  test('presence requests and presence subscriptions obey canSubscribe', async (t) => {
    const { connect } = await startRealtime(t, { canSubscribe: (_session, channel) => !channel.startsWith('secret') });
    const client = await connect();
    assert.equal(await client.fails({ t: 'presence', channel: 'secret-room' }), 'FORBIDDEN');
    assert.equal(await client.fails({ t: 'sub', channel: 'secret-room', presence: true }), 'FORBIDDEN');
    assert.deepEqual(await client.ok({ t: 'presence', channel: 'open-room' }), []);
  });
});
