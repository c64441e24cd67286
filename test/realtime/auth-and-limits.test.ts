// The server's gates and bounds: authenticate at the handshake (401, the token from each of its
// four places), the Origin allowlist (403), canSubscribe / canPublish (FORBIDDEN, connection kept),
// the per-connection rate limit (RATE_LIMITED, then 1013) on an injected clock, and the slow
// consumer bound (1013, or drops on volatile channels) against clients that stop reading.

import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { extractToken } from '../../src/realtime/auth-token.js';
import { MemoryBroker } from '../../src/realtime/memory-broker.js';
import { RateLimiter, RateVerdict } from '../../src/realtime/rate-limiter.js';
import { Opcode, RawClient, type RawFrame } from '../node/support/raw-client.js';
import { EnvelopeClient, once, startRealtime, wrapBroker, type RealtimeFixture } from './support/envelope-client.js';

describe('extractToken', () => {
  const request = (headers: Record<string, string>, url = '/realtime') => ({ headers: headers as IncomingMessage['headers'], url });

  test('finds the token in the Authorization header, a cookie, the query or an offered subprotocol', () => {
    assert.equal(extractToken(request({ authorization: 'Bearer abc.def' })), 'abc.def');
    assert.equal(extractToken(request({ authorization: 'bearer   xyz ' })), 'xyz');
    assert.equal(extractToken(request({ cookie: 'theme=dark; tidewire_token=t%20k; other=1' })), 't k');
    assert.equal(extractToken(request({}, '/realtime?room=1&token=q-t')), 'q-t');
    const encoded = Buffer.from('sub:tøken', 'utf8').toString('base64url');
    assert.equal(extractToken(request({ 'sec-websocket-protocol': `tidewire.v1.json, tidewire.auth.${encoded}` })), 'sub:tøken');
  });

  test('prefers the header, then the cookie, the query and the subprotocol; absent or empty is undefined', () => {
    const protocol = `tidewire.auth.${Buffer.from('p').toString('base64url')}`;
    const all = { authorization: 'Bearer h', cookie: 'tidewire_token=c', 'sec-websocket-protocol': protocol };
    assert.equal(extractToken(request(all, '/?token=q')), 'h');
    assert.equal(extractToken(request({ ...all, authorization: 'Basic x' }, '/?token=q')), 'c');
    assert.equal(extractToken(request({ 'sec-websocket-protocol': protocol }, '/?token=q')), 'q');
    assert.equal(extractToken(request({ 'sec-websocket-protocol': protocol })), 'p');
    assert.equal(extractToken(request({})), undefined);
    assert.equal(extractToken(request({ cookie: 'tidewire_token=' }, '/?token=')), undefined);
    assert.equal(extractToken(request({ 'sec-websocket-protocol': 'tidewire.auth.not+base64url' })), undefined);
  });
});

describe('authenticate and Origin at the handshake', () => {
  async function authServer(t: Parameters<typeof startRealtime>[0]): Promise<RealtimeFixture & { tokens: (string | undefined)[] }> {
    const tokens: (string | undefined)[] = [];
    const fixture = await startRealtime(t, {
      authenticate: async (_req, token) => {
        tokens.push(token);
        if (token === 'boom') throw new Error('auth backend down');
        return token?.startsWith('good') === true ? { userId: `user-${token}` } : null;
      },
    });
    return { ...fixture, tokens };
  }

  test('a rejected or missing token gets HTTP 401; a throwing authenticate 503', async (t) => {
    const { rt, url, tokens } = await authServer(t);
    const errors: unknown[] = [];
    rt.on('error', (error) => errors.push(error));
    assert.equal(await EnvelopeClient.refusal(`${url}?token=bad`), 401);
    assert.equal(await EnvelopeClient.refusal(url), 401);
    assert.equal(await EnvelopeClient.refusal(`${url}?token=boom`), 503);
    assert.deepEqual(tokens, ['bad', undefined, 'boom']);
    assert.equal(errors.length, 1);
    assert.equal(rt.sessions.size, 0);
  });

  test('the token is read from the header, the cookie, the query and an offered subprotocol', async (t) => {
    const { rt, connect, tokens } = await authServer(t);
    const viaHeader = await connect({ headers: { Authorization: 'Bearer good-header' } });
    const viaCookie = await connect({ headers: { Cookie: 'a=b; tidewire_token=good-cookie' } });
    const viaQuery = await connect({ query: '?token=good-query' });
    const viaProtocol = await connect({ protocols: ['tidewire.v1.json', `tidewire.auth.${Buffer.from('good-protocol').toString('base64url')}`] });
    assert.equal(viaProtocol.ws.protocol, 'tidewire.v1.json', 'the carrier subprotocol is never chosen');
    assert.deepEqual(tokens, ['good-header', 'good-cookie', 'good-query', 'good-protocol']);
    const users = [viaHeader, viaCookie, viaQuery, viaProtocol].map((client) => rt.sessions.get(client.hello.session)?.userId);
    assert.deepEqual(users, ['user-good-header', 'user-good-cookie', 'user-good-query', 'user-good-protocol']);
  });

  test('allowedOrigins: another Origin gets HTTP 403, a listed one or none is accepted', async (t) => {
    const { url, connect } = await startRealtime(t, { allowedOrigins: ['https://chat.example'] });
    assert.equal(await EnvelopeClient.refusal(url, { origin: 'https://evil.example' }), 403);
    await connect({ origin: 'https://chat.example' });
    await connect();
  });
});

describe('canSubscribe and canPublish', () => {
  test('a refused subscribe or publish gets FORBIDDEN and the connection stays', async (t) => {
    const published: unknown[] = [];
    const { rt, connect } = await startRealtime(t, {
      authenticate: (_req, token) => ({ userId: token ?? 'nobody' }),
      canSubscribe: async (session, channel) => channel !== 'admin' || session.userId === 'root',
      canPublish: (session, channel, data) => (published.push(data), channel !== 'announcements' && data !== 'spam' && session.userId !== undefined),
    });
    const user = await connect({ query: '?token=ann' });
    const root = await connect({ query: '?token=root' });
    const reply = await user.request({ t: 'sub', channel: 'admin' });
    assert.deepEqual(reply.t === 'error' && reply.error, { code: 'FORBIDDEN', message: 'Not allowed to subscribe to "admin"' });
    await root.ok({ t: 'sub', channel: 'admin' });
    assert.equal(await user.fails({ t: 'pub', channel: 'announcements', pid: 'u:1', data: 'hello' }), 'FORBIDDEN');
    assert.equal(await user.fails({ t: 'pub', channel: 'general', pid: 'u:2', data: 'spam' }), 'FORBIDDEN');
    assert.equal((await user.ok({ t: 'pub', channel: 'general', pid: 'u:3', data: 'fine' })).offset, 1);
    assert.deepEqual(published, ['hello', 'spam', 'fine'], 'the hook sees the data');
    assert.equal((await rt.publish('announcements', 'server side is not gated')).offset, 1, 'nothing was published by the refused ones');
    await user.ok({ t: 'sub', channel: 'general' });
  });
});

describe('rate limit', () => {
  test('RateLimiter: a bucket of `burst` tokens refilled at ratePerSecond; more than 2 × burst refusals in a second is abuse', () => {
    let now = 1000;
    const limiter = new RateLimiter({ ratePerSecond: 10, burst: 3 }, () => now);
    assert.deepEqual([1, 2, 3, 4].map(() => limiter.take()), ['allowed', 'allowed', 'allowed', 'limited']);
    now += 100; // one token back
    assert.deepEqual([limiter.take(), limiter.take()], [RateVerdict.ALLOWED, RateVerdict.LIMITED]);
    now += 10_000; // refills to the burst, not beyond
    assert.deepEqual([1, 2, 3, 4].map(() => limiter.take()), ['allowed', 'allowed', 'allowed', 'limited']);
    const verdicts = Array.from({ length: 6 }, () => limiter.take());
    assert.deepEqual(verdicts, ['limited', 'limited', 'limited', 'limited', 'limited', 'abusive'], 'the 7th refusal within a second');
    now += 1000; // a new window: refusals count from zero again
    for (let i = 0; i < 6; i++) limiter.take();
    assert.equal(limiter.take() === RateVerdict.ALLOWED, false);
  });

  test('over the limit requests get RATE_LIMITED replies; past twice the burst within a second the server closes with 1013 (come back later)', async (t) => {
    let now = 0;
    const { rt, connect } = await startRealtime(t, { rateLimit: { ratePerSecond: 5, burst: 2 }, now: () => now });
    rt.handle('echo', (params: unknown) => params);
    const client = await connect();
    assert.equal(await client.ok({ t: 'rpc', method: 'echo', params: 1 }), 1);
    assert.equal(await client.ok({ t: 'rpc', method: 'echo', params: 2 }), 2);
    assert.equal(await client.fails({ t: 'rpc', method: 'echo', params: 3 }), 'RATE_LIMITED');
    assert.equal(await client.fails({ t: 'pub', channel: 'c', pid: 'p:1', data: 1 }), 'RATE_LIMITED');
    now += 200; // one token
    assert.equal(await client.ok({ t: 'rpc', method: 'echo', params: 4 }), 4);
    const closed = once<[unknown, number]>(rt, 'sessionClosed');
    for (let i = 0; i < 5; i++) client.send({ t: 'rpc', id: 100 + i, method: 'echo', params: i }); // refusals 3, 4, then 5 > 2 × 2
    assert.equal((await closed)[1], 1013);
    assert.equal((await client.closed).code, 1013);
  });
});

describe('slow consumers', () => {
  const CHUNK = 'x'.repeat(64 * 1024);

  /** A raw client on the JSON subprotocol that subscribed to `channel` and then stops reading. */
  async function stalledSubscriber(port: number, channel: string): Promise<RawClient> {
    const raw = await RawClient.connect(port, { path: '/realtime', headers: { 'Sec-WebSocket-Protocol': 'tidewire.v1.json' } });
    assert.equal(raw.status, 101);
    assert.equal(JSON.parse((await raw.nextFrame()).payload.toString()).t, 'hello');
    await raw.sendFrame(Opcode.TEXT, JSON.stringify({ t: 'sub', id: 1, channel }));
    assert.equal(JSON.parse((await raw.nextFrame()).payload.toString()).t, 'result');
    raw.pauseReading();
    return raw;
  }

  const textOf = (frame: RawFrame): { t: string; offset?: number } => JSON.parse(frame.payload.toString()) as { t: string; offset?: number };

  test('a client that stops reading is closed with 1013 once its buffered bytes pass maxOutboundBytes; others go on', async (t) => {
    const { rt, port, connect, beforeClose } = await startRealtime(t, { maxOutboundBytes: 256 * 1024, broker: new MemoryBroker({ historySize: 10 }) });
    const bystander = await connect();
    await bystander.ok({ t: 'sub', channel: 'firehose' });
    const raw = await stalledSubscriber(port, 'firehose');
    beforeClose(() => raw.destroy());
    let closedWith: number | undefined;
    rt.once('sessionClosed', (_info, code: number) => (closedWith = code));
    let published = 0;
    while (closedWith === undefined && published < 2000) {
      await rt.publish('firehose', CHUNK);
      published++;
      await bystander.publications('firehose', 1); // paced by the reader that keeps up
    }
    assert.equal(closedWith, 1013);
    assert.ok(published > 4, `it took ${published} publications of 64 KiB to fill the buffers`);
    raw.resumeReading();
    const { code, before } = await raw.readUntilClose();
    assert.equal(code, 1013);
    const offsets = before.map(textOf).filter((frame) => frame.t === 'pub').map((frame) => frame.offset);
    assert.deepEqual(offsets, Array.from({ length: offsets.length }, (_, i) => i + 1), 'what it got is contiguous: it recovers the rest from history');
    assert.deepEqual(bystander.pending('pub'), [], 'the bystander got everything, one by one');
    await bystander.roundTrip();
    assert.equal(rt.sessions.size, 1);
  });

  test('on a volatile channel a client that stops reading loses publications but keeps its connection', async (t) => {
    const { rt, port, beforeClose } = await startRealtime(t, {
      maxOutboundBytes: 256 * 1024,
      broker: new MemoryBroker({ historySize: 10 }),
      channels: (name) => ({ volatile: name.startsWith('ticks:') }),
    });
    const raw = await stalledSubscriber(port, 'ticks:prices');
    beforeClose(() => raw.destroy());
    let closed = false;
    rt.once('sessionClosed', () => (closed = true));
    const total = 300; // ~19 MiB: far more than loopback buffers hold
    for (let i = 1; i <= total; i++) {
      await rt.publish('ticks:prices', CHUNK);
      if (i % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(closed, false);
    raw.resumeReading();
    await raw.sendFrame(Opcode.TEXT, JSON.stringify({ t: 'ping' }));
    const offsets: number[] = [];
    for (let frame = textOf(await raw.nextFrame()); frame.t !== 'pong'; frame = textOf(await raw.nextFrame())) offsets.push(frame.offset!);
    assert.ok(offsets.length < total, `some were dropped (${offsets.length} of ${total} arrived)`);
    assert.ok(offsets.every((offset, i) => i === 0 || offset > offsets[i - 1]!), 'still in order');
    await rt.publish('ticks:prices', 'after the stall');
    assert.equal(textOf(await raw.nextFrame()).offset, total + 1, 'it gets live publications again once it reads');
    assert.equal(rt.sessions.size, 1);
  });

  test('publications buffered while history is read are bounded: past maxBufferedPublications the session closes with 1013', async (t) => {
    const inner = new MemoryBroker();
    let releaseHistory!: () => void;
    const historyHeld = new Promise<void>((resolve) => (releaseHistory = resolve));
    // History is read at once but answered late: everything published meanwhile is buffered.
    const broker = wrapBroker(inner, {
      history: async (...args) => {
        const history = await inner.history(...args);
        await historyHeld;
        return history;
      },
    });
    const { rt, connect } = await startRealtime(t, { broker, limits: { maxBufferedPublications: 5 }, channels: (name) => ({ volatile: name === 'v' }) });
    const strict = await connect();
    const loose = await connect();
    const strictReply = strict.request({ t: 'sub', channel: 's' });
    const looseReply = loose.request({ t: 'sub', channel: 'v' });
    await new Promise((resolve) => setTimeout(resolve, 20)); // both are live and buffering
    const closed = once<[{ id: string }, number]>(rt, 'sessionClosed');
    for (let i = 1; i <= 6; i++) {
      await rt.publish('s', i);
      await rt.publish('v', i);
    }
    const [info, code] = await closed;
    assert.deepEqual([info.id, code], [strict.hello.session, 1013]);
    releaseHistory();
    await assert.rejects(strictReply, /closed with 1013/);
    const result = await looseReply;
    assert.equal(result.t, 'result', 'the volatile subscriber is kept');
    assert.deepEqual((await loose.publications('v', 5)).map((pub) => pub.data), [1, 2, 3, 4, 5], 'the sixth was dropped');
    await inner.close();
  });
});
