// RealtimeServer over real sockets, spoken to in the JSON envelope: the hello, subscribe and
// unsubscribe, acknowledged and deduplicated publishes, a session's publish order through a slow
// broker, app-level ping, a broker that refuses, codec negotiation, noServer mode and shutdown.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import type { Broker } from '../../src/realtime/broker.js';
import { BrokerError } from '../../src/realtime/broker.js';
import type { Codec } from '../../src/realtime/codec.js';
import { msgpackCodec, protobufCodec } from '../../src/codecs/index.js';
import { MemoryBroker } from '../../src/realtime/memory-broker.js';
import { RealtimeServer } from '../../src/realtime/realtime-server.js';
import { EnvelopeClient, jitter, once, startRealtime, wrapBroker } from './support/envelope-client.js';

/** A MemoryBroker whose publish takes a random 0–4 ms: publishes overtake each other unless the server orders them. */
function slowBroker(): Broker {
  const inner = new MemoryBroker();
  return wrapBroker(inner, { publish: async (...args) => (await jitter(4), inner.publish(...args)) });
}

describe('RealtimeServer sessions', () => {
  test('server sends a hello with the session id and heartbeat on connect, and lists the session', async (t) => {
    const { rt, connect } = await startRealtime(t, { heartbeatIntervalMs: 7000 });
    const opened = once<[{ id: string }]>(rt, 'session');
    const client = await connect();
    assert.equal(client.hello.version, 1);
    assert.equal(client.hello.heartbeatMs, 7000);
    assert.equal(client.ws.protocol, 'tidewire.v1.json');
    const [info] = await opened;
    assert.equal(info.id, client.hello.session);
    assert.equal(rt.sessions.get(client.hello.session)?.remoteAddress, '127.0.0.1');

    const closed = once<[{ id: string }, number]>(rt, 'sessionClosed');
    client.close();
    const [closedInfo, code] = await closed;
    assert.equal(closedInfo.id, info.id);
    assert.equal(code, 1000);
    assert.equal(rt.sessions.size, 0);
  });

  test('server answers an app-level ping with a pong', async (t) => {
    const { connect } = await startRealtime(t);
    const client = await connect();
    client.send({ t: 'ping' });
    assert.deepEqual(await client.next('pong'), { t: 'pong' });
  });

  test('server picks the first of its codecs the client offers, and refuses a handshake offering none with 400', async (t) => {
    const fake: Codec = { name: 'upper', binary: false, encode: (frame) => JSON.stringify(frame), decode: (text) => JSON.parse(String(text)) as unknown };
    const { url, connect } = await startRealtime(t, { codecs: [fake] });
    const both = await connect({ protocols: ['tidewire.v1.json', 'tidewire.v1.upper'] });
    assert.equal(both.ws.protocol, 'tidewire.v1.upper', "the server's preference wins");
    const json = await connect({ protocols: ['tidewire.v1.json'] });
    assert.equal(json.ws.protocol, 'tidewire.v1.json', 'json is always available');
    assert.equal(await EnvelopeClient.refusal(url, { protocols: ['tidewire.v2.json'] }), 400);
    assert.equal(await EnvelopeClient.refusal(url, { protocols: [] }), 400);
  });

  for (const codec of [msgpackCodec, protobufCodec]) {
    test(`a ${codec.name} client and a JSON client share a channel (binary frames, the same publications)`, async (t) => {
      const { connect } = await startRealtime(t, { codecs: [msgpackCodec, protobufCodec] });
      const binary = await connect({ codec });
      const json = await connect();
      assert.equal(binary.ws.protocol, `tidewire.v1.${codec.name}`);
      const received: boolean[] = [];
      binary.ws.on('message', (_data: Buffer, isBinary: boolean) => received.push(isBinary));
      await binary.ok({ t: 'sub', channel: 'mixed' });
      await json.ok({ t: 'sub', channel: 'mixed' });
      const data = { text: 'grüße', n: 3, list: [1, null, true], nested: { deep: 'yes' } };
      await json.ok({ t: 'pub', channel: 'mixed', pid: 'j:1', data });
      await binary.ok({ t: 'pub', channel: 'mixed', pid: 'b:1', data: 'from binary' });
      for (const client of [binary, json]) {
        assert.deepEqual((await client.publications('mixed', 2)).map((pub) => [pub.offset, pub.data]), [[1, data], [2, 'from binary']]);
      }
      assert.ok(received.length > 0 && received.every(Boolean), 'binary codecs use binary frames');
    });
  }

  test('a text message on a binary subprotocol is undecodable: 1007', async (t) => {
    const { connect } = await startRealtime(t, { codecs: [msgpackCodec] });
    const client = await connect({ codec: msgpackCodec });
    client.sendRaw('{"t":"ping"}');
    assert.equal((await client.closed).code, 1007);
  });

  test('server in noServer mode takes upgrades through handleUpgrade', async (t) => {
    const server = http.createServer();
    const rt = new RealtimeServer({ noServer: true, heartbeatIntervalMs: 0 });
    server.on('upgrade', (req, socket, head) => {
      if (req.url === '/mine') rt.handleUpgrade(req, socket, head);
      else socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(async () => {
      await rt.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    const client = await EnvelopeClient.connect(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/mine`);
    assert.equal(rt.sessions.size, 1);
    client.send({ t: 'ping' });
    await client.next('pong');
    client.close();
    await client.closed;
  });
});

describe('RealtimeServer channels', () => {
  test('subscriber gets publications after its subscribe result; unsubscribe stops them', async (t) => {
    const { rt, connect } = await startRealtime(t);
    const alice = await connect();
    const bob = await connect();
    const subscribed = await alice.ok({ t: 'sub', channel: 'room' });
    assert.equal(subscribed.recovered, true);
    assert.deepEqual(subscribed.publications, []);
    assert.equal(subscribed.offset, 0);

    const ack = await bob.ok({ t: 'pub', channel: 'room', pid: 'bob:1', data: { text: 'hi' } });
    assert.equal(ack.offset, 1);
    assert.equal(ack.epoch, subscribed.epoch);
    const [pub] = await alice.publications('room', 1);
    assert.deepEqual(pub, { t: 'pub', channel: 'room', epoch: subscribed.epoch, offset: 1, data: { text: 'hi' } });

    const serverSide = await rt.publish('room', 'from the server');
    assert.equal(serverSide.offset, 2);
    assert.equal((await alice.publications('room', 1))[0]?.data, 'from the server');

    assert.deepEqual(await alice.ok({ t: 'unsub', channel: 'room' }), {});
    await bob.ok({ t: 'pub', channel: 'room', pid: 'bob:2', data: 'unheard' });
    await alice.roundTrip();
    assert.deepEqual(alice.pending('pub'), []);
    assert.equal(await alice.fails({ t: 'unsub', channel: 'room' }), 'NOT_SUBSCRIBED');
  });

  test('server refuses a second subscribe to the same channel with ALREADY_SUBSCRIBED', async (t) => {
    const { connect } = await startRealtime(t);
    const client = await connect();
    const [first, second] = await Promise.all([client.request({ t: 'sub', channel: 'a' }), client.request({ t: 'sub', channel: 'a' })]);
    assert.equal(first.t, 'result');
    assert.equal(second.t === 'error' && second.error.code, 'ALREADY_SUBSCRIBED');
  });

  test('a repeated pid is acknowledged with the same offset and appears once', async (t) => {
    const { connect } = await startRealtime(t);
    const publisher = await connect();
    const subscriber = await connect();
    await subscriber.ok({ t: 'sub', channel: 'c' });
    const first = await publisher.ok({ t: 'pub', channel: 'c', pid: 'p:1', data: 'once' });
    const again = await publisher.ok({ t: 'pub', channel: 'c', pid: 'p:1', data: 'once' });
    assert.deepEqual(again, first);
    // A reconnected client (another session) resending the same pid: still the same offset.
    const reconnected = await connect();
    assert.deepEqual(await reconnected.ok({ t: 'pub', channel: 'c', pid: 'p:1', data: 'once' }), first);
    await publisher.ok({ t: 'pub', channel: 'c', pid: 'p:2', data: 'next' });
    const received = await subscriber.publications('c', 2);
    assert.deepEqual(received.map((pub) => [pub.offset, pub.data]), [[1, 'once'], [2, 'next']]);
  });

  test("a session's publishes keep their send order through a broker that delays each one randomly", async (t) => {
    const { connect } = await startRealtime(t, { broker: slowBroker() });
    const publisher = await connect();
    const subscriber = await connect();
    await subscriber.ok({ t: 'sub', channel: 'ordered' });
    const count = 60;
    const acks = await Promise.all(Array.from({ length: count }, (_, i) => publisher.ok({ t: 'pub', channel: 'ordered', pid: `p:${i}`, data: i })));
    assert.deepEqual(acks.map((ack: { offset: number }) => ack.offset), Array.from({ length: count }, (_, i) => i + 1));
    const received = await subscriber.publications('ordered', count);
    assert.deepEqual(received.map((pub) => pub.data), Array.from({ length: count }, (_, i) => i));
  });

  test('a broker that rejects a publish gets a BROKER_UNAVAILABLE reply, and nothing is delivered', async (t) => {
    const inner = new MemoryBroker();
    let down = false;
    const broker = wrapBroker(inner, {
      publish: (channel, data, options) => (down ? Promise.reject(new BrokerError('redis is down')) : inner.publish(channel, data, options)),
    });
    const { rt, connect } = await startRealtime(t, { broker });
    const client = await connect();
    await client.ok({ t: 'sub', channel: 'c' });
    down = true;
    const reply = await client.request({ t: 'pub', channel: 'c', pid: 'x:1', data: 'lost?' });
    assert.equal(reply.t, 'error');
    assert.equal(reply.t === 'error' && reply.error.code, 'BROKER_UNAVAILABLE');
    assert.match(reply.t === 'error' ? reply.error.message : '', /redis is down/);
    await assert.rejects(rt.publish('c', 'server'), { code: 'BROKER_UNAVAILABLE' });
    down = false;
    const ack = await client.ok({ t: 'pub', channel: 'c', pid: 'x:1', data: 'retried' });
    assert.equal(ack.offset, 1, 'the refused publish took no offset');
    assert.deepEqual((await client.publications('c', 1)).map((pub) => pub.data), ['retried']);
    await inner.close();
  });
});

describe('a broker failure that is not BrokerError', () => {
  test('answers INTERNAL (not retryable) and does not hold back the next publish', async (t) => {
    const inner = new MemoryBroker();
    const broker = wrapBroker(inner, {
      publish: (channel, data, options) => (data === 'poison' ? Promise.reject(new TypeError('cannot store this value')) : inner.publish(channel, data, options)),
    });
    const { connect } = await startRealtime(t, { broker });
    const client = await connect();
    const reply = await client.request({ t: 'pub', channel: 'c', pid: 'x:1', data: 'poison' });
    assert.equal(reply.t === 'error' && reply.error.code, 'INTERNAL');
    assert.equal((await client.ok({ t: 'pub', channel: 'c', pid: 'x:2', data: 'fine' })).offset, 1);
    await inner.close();
  });
});

describe('RealtimeServer.publish with a pid', () => {
  test('a publish cut off inside the broker, called again with its pid, resolves at its first position; a bad pid is BAD_REQUEST', async (t) => {
    const inner = new MemoryBroker();
    let cutOff = true;
    const broker = wrapBroker(inner, {
      publish: async (channel, data, options) => {
        const accepted = await inner.publish(channel, data, options);
        if (cutOff) throw new BrokerError('the connection broke before the reply');
        return accepted;
      },
    });
    const { rt } = await startRealtime(t, { broker });
    await assert.rejects(rt.publish('c', 'once', { pid: 'job-17' }), { code: 'BROKER_UNAVAILABLE' });
    cutOff = false;
    assert.equal((await rt.publish('c', 'once', { pid: 'job-17' })).offset, 1);
    assert.equal((await rt.publish('c', 'next')).offset, 2);
    assert.deepEqual((await inner.history('c')).publications.map((publication) => publication.data), ['once', 'next']);
    await assert.rejects(rt.publish('c', 'x', { pid: '' }), { code: 'BAD_REQUEST' });
    await assert.rejects(rt.publish('c', 'x', { pid: 'p'.repeat(257) }), { code: 'BAD_REQUEST' });
    await inner.close();
  });
});

describe('RealtimeServer shutdown', () => {
  test('close() closes every client with 1001, empties the sessions and closes the broker it made', async (t) => {
    const { rt, connect } = await startRealtime(t);
    const clients = await Promise.all([connect(), connect(), connect()]);
    await clients[0]!.ok({ t: 'sub', channel: 'c', presence: true });
    const closedCodes: number[] = [];
    rt.on('sessionClosed', (_info, code: number) => closedCodes.push(code));
    await rt.close();
    for (const client of clients) assert.equal((await client.closed).code, 1001);
    assert.deepEqual(closedCodes, [1001, 1001, 1001]);
    assert.equal(rt.sessions.size, 0);
    await assert.rejects(rt.publish('c', 1), { code: 'BROKER_UNAVAILABLE' });
  });

  test('close() leaves a broker it was given open', async (t) => {
    const broker = new MemoryBroker();
    const { rt, connect } = await startRealtime(t, { broker });
    const client = await connect();
    await client.ok({ t: 'sub', channel: 'c' });
    await rt.close();
    assert.equal((await client.closed).code, 1001);
    assert.equal((await broker.publish('c', 'still open')).offset, 1);
    assert.equal(broker.stats().subscriptions, 0, 'the server unsubscribed');
    await broker.close();
  });
});
