// The demo server in-process on a free port, spoken to over real sockets: the page, /echo,
// /clock (one shared once-a-second tick), /chat (one total order for everyone, join/leave
// notices, cleaned nicknames), the 404s, and /realtime, the chat page's messaging layer, spoken
// to with the node RealtimeClient (rooms, presence, history up to a subscription's start, checks).

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, test } from 'node:test';
import type { ChatMessage } from '../../src/cli/chat-message.js';
import { CHAT_RATE_LIMIT, type RoomHistory } from '../../src/cli/chat-realtime.js';
import { ChatRooms, MAX_CHAT_ROOMS, ROOM_IDLE_MS } from '../../src/cli/chat-rooms.js';
import { startDemoServer, type DemoServer } from '../../src/cli/demo-server.js';
import {
  RealtimeClient,
  WebSocket,
  type ClientSubscription,
  type PresenceMember,
  type PublicationMeta,
  type SubscribedInfo,
} from '../../src/index.js';
import { withTimeout } from '../helpers/with-timeout.js';

const EVENT_TIMEOUT_MS = 5_000;
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** A client that queues what it receives, so a test can take messages in order as they come. */
class Inbox {
  readonly received: { data: Buffer; isBinary: boolean; atMs: number }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #taken = 0;
  #wake: (() => void) | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.received.push({ data, isBinary, atMs: performance.now() });
      this.#wake?.();
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) =>
      ws.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString('utf8') })),
    );
  }

  static async open(url: string): Promise<Inbox> {
    const inbox = new Inbox(new WebSocket(url));
    await withTimeout(once(inbox.ws, 'open'), EVENT_TIMEOUT_MS, `open ${url}`);
    return inbox;
  }

  /** The next message not taken yet. */
  async next(timeoutMs = EVENT_TIMEOUT_MS): Promise<{ data: Buffer; isBinary: boolean; atMs: number }> {
    while (this.received.length <= this.#taken) {
      await withTimeout(new Promise<void>((resolve) => (this.#wake = resolve)), timeoutMs, 'a message');
    }
    return this.received[this.#taken++]!;
  }

  async nextText(): Promise<string> {
    const { data, isBinary } = await this.next();
    assert.equal(isBinary, false);
    return data.toString('utf8');
  }

  async nextJson(): Promise<Record<string, unknown>> {
    return JSON.parse(await this.nextText()) as Record<string, unknown>;
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) {
      this.ws.close(1000);
      await withTimeout(this.closed, EVENT_TIMEOUT_MS, 'close');
    }
  }
}

/** Sends a raw request and resolves with everything the server wrote before closing. */
async function rawRequest(port: number, request: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  let response = '';
  socket.on('data', (chunk: string) => (response += chunk));
  socket.write(request);
  await withTimeout(once(socket, 'close'), EVENT_TIMEOUT_MS, 'the server to close the socket');
  return response;
}

describe('demo server', () => {
  let server: DemoServer;
  let wsBase: string;
  let port: number;

  before(async () => {
    server = await startDemoServer({ port: 0 });
    port = Number(new URL(server.url).port);
    wsBase = server.url.replace(/^http:/, 'ws:');
  });
  after(() => server.close());

  test('server reports an http:// URL with the port it got', () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
  });

  test('GET / serves the page, which loads app.js and style.css from the same server', async () => {
    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const html = await page.text();
    assert.match(html, /<title>tidewire demo<\/title>/);
    for (const asset of ['/app.js', '/style.css']) {
      assert.ok(html.includes(asset), `page references ${asset}`);
      const response = await fetch(`${server.url}${asset}`);
      assert.equal(response.status, 200, asset);
      assert.ok((await response.text()).length > 0, asset);
    }
    assert.doesNotMatch(html, /https?:\/\//, 'no external resources');
  });

  test('GET of an unknown path is a 404, and so is a path trying to leave web/', async () => {
    assert.equal((await fetch(`${server.url}/nope`)).status, 404);
    assert.equal((await fetch(`${server.url}/nope.js`)).status, 404);
    const traversal = await rawRequest(port, 'GET /../package.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(traversal, /^HTTP\/1\.1 404 /);
    const encoded = await rawRequest(port, 'GET /%2e%2e%2fpackage.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(encoded, /^HTTP\/1\.1 404 /);
  });

  test('GET of a WebSocket endpoint without an upgrade is a 426', async () => {
    const response = await fetch(`${server.url}/chat`);
    assert.equal(response.status, 426);
    assert.equal(response.headers.get('upgrade'), 'websocket');
  });

  test('upgrade to an unknown path gets "HTTP/1.1 404" and the socket is closed', async () => {
    const response = await rawRequest(
      port,
      'GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    assert.match(response, /^HTTP\/1\.1 404 /);
  });

  test('client connecting to an unknown path gets an error and a 1006 close', async () => {
    const ws = new WebSocket(`${wsBase}/nope`);
    const failed = new Promise<Error>((resolve) => ws.once('error', resolve));
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    const error = await withTimeout(failed, EVENT_TIMEOUT_MS, 'the error');
    assert.match(error.message, /404/);
    assert.equal(await withTimeout(closed, EVENT_TIMEOUT_MS, 'the close'), 1006);
  });

  test('/echo echoes text as text and binary as binary', async () => {
    const client = await Inbox.open(`${wsBase}/echo`);
    client.ws.send('hello');
    client.ws.send(Buffer.from([9, 8, 7]), { binary: true });
    assert.equal(await client.nextText(), 'hello');
    const binary = await client.next();
    assert.equal(binary.isBinary, true);
    assert.deepEqual([...binary.data], [9, 8, 7]);
    await client.close();
  });

  test('/clock sends the time at once, then a tick every second, the same tick to every client', async () => {
    const first = await Inbox.open(`${wsBase}/clock`);
    const second = await Inbox.open(`${wsBase}/clock`);
    const welcome = await second.nextText();
    assert.match(welcome, ISO_TIME);
    assert.ok(Math.abs(Date.parse(welcome) - Date.now()) < 2_000, 'the time is now');

    const tickA = await second.next(2_500);
    const tickB = await second.next(2_500);
    const gapMs = tickB.atMs - tickA.atMs;
    assert.ok(gapMs > 700 && gapMs < 1_300, `ticks ${gapMs.toFixed(0)} ms apart`);
    const [textA, textB] = [tickA.data.toString(), tickB.data.toString()];
    assert.match(textA, ISO_TIME);
    assert.ok(Date.parse(textB) - Date.parse(textA) >= 900, `${textA} then ${textB}`);

    // One shared timer broadcasting: the other client got the very same strings.
    const firstTexts: string[] = [];
    while (!firstTexts.includes(textB)) firstTexts.push((await first.next(2_500)).data.toString());
    assert.ok(firstTexts.includes(textA), `${JSON.stringify(firstTexts)} has ${textA}`);
    await Promise.all([first.close(), second.close()]);
  });

  test('/chat: three clients get every message once, in one order, with the sender name; join and leave notices', async () => {
    const names = ['alice', 'bob', 'carol'];
    const clients: Inbox[] = [];
    for (const name of names) {
      const client = await Inbox.open(`${wsBase}/chat?name=${name}`);
      const welcome = await client.nextJson();
      assert.equal(welcome.type, 'welcome');
      assert.equal(welcome.from, name);
      assert.deepEqual(welcome.members, names.slice(0, clients.length + 1));
      clients.push(client);
    }
    // Each one has seen its own join and the joins of those after it.
    for (const [index, client] of clients.entries()) {
      for (const name of names.slice(index)) {
        const join = await client.nextJson();
        assert.equal(join.type, 'join');
        assert.equal(join.from, name);
        assert.equal(join.online, names.indexOf(name) + 1);
      }
    }

    // All three talk at once; each sends three messages.
    for (let round = 1; round <= 3; round++) {
      for (const [index, client] of clients.entries()) client.ws.send(`${names[index]} says ${round}`);
    }
    const logs: string[][] = [];
    for (const client of clients) {
      const log: string[] = [];
      for (let i = 0; i < 9; i++) {
        const message = await client.nextJson();
        assert.equal(message.type, 'message');
        assert.match(String(message.at), ISO_TIME);
        assert.ok(String(message.text).startsWith(`${String(message.from)} says `), `sender name on ${String(message.text)}`);
        log.push(String(message.text));
      }
      logs.push(log);
    }
    assert.deepEqual(logs[1], logs[0], 'bob saw the order alice saw');
    assert.deepEqual(logs[2], logs[0], 'carol saw the order alice saw');
    assert.equal(new Set(logs[0]).size, 9, 'each message once');
    for (const name of names) {
      assert.deepEqual(
        logs[0]!.filter((text) => text.startsWith(`${name} `)),
        [1, 2, 3].map((round) => `${name} says ${round}`),
        `${name}'s messages in send order`,
      );
    }

    await clients[2]!.close();
    for (const client of clients.slice(0, 2)) {
      const leave = await client.nextJson();
      assert.deepEqual({ type: leave.type, from: leave.from, online: leave.online }, { type: 'leave', from: 'carol', online: 2 });
    }
    await Promise.all(clients.slice(0, 2).map((client) => client.close()));
  });

  test('/chat cleans nicknames: controls and bidi overrides removed, 24 characters at most, duplicates numbered, guests named', async () => {
    const nameOf = async (query: string): Promise<{ client: Inbox; name: unknown }> => {
      const client = await Inbox.open(`${wsBase}/chat${query}`);
      return { client, name: (await client.nextJson()).from };
    };
    const opened = [
      await nameOf(`?name=${encodeURIComponent('\u202eeve\n\t ')}`),
      await nameOf(`?name=${encodeURIComponent('x'.repeat(100))}`),
      await nameOf('?name=eve'),
      await nameOf(''),
      await nameOf(`?name=${encodeURIComponent('  \u0000 ')}`),
    ];
    const [bidi, long, duplicate, none, blank] = opened.map((entry) => entry.name);
    assert.equal(bidi, 'eve');
    assert.equal(long, 'x'.repeat(24));
    assert.equal(duplicate, 'eve-2');
    assert.match(String(none), /^guest-\d+$/);
    assert.match(String(blank), /^guest-\d+$/);
    assert.notEqual(none, blank);
    await Promise.all(opened.map((entry) => entry.client.close()));
  });

  test('/chat closes with 1003 on a binary message', async () => {
    const client = await Inbox.open(`${wsBase}/chat?name=bin`);
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    const closed = await withTimeout(client.closed, EVENT_TIMEOUT_MS, 'the 1003 close');
    assert.equal(closed.code, 1003);
  });
});

test('demo server close() closes open connections with 1001 and stops listening', async () => {
  const server = await startDemoServer({ port: 0 });
  const wsBase = server.url.replace(/^http:/, 'ws:');
  const chat = await Inbox.open(`${wsBase}/chat?name=last`);
  const clock = await Inbox.open(`${wsBase}/clock`);
  await withTimeout(server.close(), EVENT_TIMEOUT_MS, 'close()');
  assert.equal((await withTimeout(chat.closed, EVENT_TIMEOUT_MS, 'the chat close')).code, 1001);
  assert.equal((await withTimeout(clock.closed, EVENT_TIMEOUT_MS, 'the clock close')).code, 1001);
  await assert.rejects(fetch(`${server.url}/`));
});

/** A subscription's publications as they arrive, and its first `subscribed` info. */
class Received {
  readonly publications: { data: ChatMessage; meta: PublicationMeta }[] = [];
  readonly subscribed: Promise<SubscribedInfo>;
  #waiters: (() => void)[] = [];

  constructor(readonly subscription: ClientSubscription<ChatMessage>) {
    this.subscribed = new Promise((resolve, reject) => {
      subscription.on('subscribed', resolve);
      subscription.on('error', reject);
    });
    subscription.on('publication', (data, meta) => {
      this.publications.push({ data, meta });
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Resolves once `count` publications arrived. */
  async atLeast(count: number): Promise<void> {
    while (this.publications.length < count) {
      await withTimeout(new Promise<void>((resolve) => this.#waiters.push(resolve)), EVENT_TIMEOUT_MS, `${count} publications`);
    }
  }
}

let messageCount = 0;
function chatMessage(from: string, text: string): ChatMessage {
  return { id: `m${++messageCount}`, from, text, at: Date.now() };
}

function userIds(members: PresenceMember[] | undefined): string[] {
  return [...new Set((members ?? []).map((member) => member.userId ?? '?'))].sort();
}

describe('demo server /realtime (the chat page on the messaging layer)', () => {
  let server: DemoServer;
  let realtimeUrl: string;
  const clients: RealtimeClient[] = [];

  before(async () => {
    server = await startDemoServer({ port: 0 });
    realtimeUrl = `${server.url.replace(/^http:/, 'ws:')}/realtime`;
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  after(() => server.close());

  /** A client whose handshake token is its nickname, as the page's. */
  const open = (token?: string): RealtimeClient => {
    const client = new RealtimeClient(realtimeUrl, { WebSocket, ...(token !== undefined ? { token } : {}) });
    clients.push(client);
    return client;
  };

  test('two clients in a room see every message of both once, in one order; presence lists both with their names', async () => {
    const alice = open('alice');
    const bob = open('bob');
    const inA = new Received(alice.subscribe<string>('room:two-people', { presence: true }) as ClientSubscription<ChatMessage>);
    const joinedA = await withTimeout(inA.subscribed, EVENT_TIMEOUT_MS, 'alice subscribed');
    assert.deepEqual(userIds(joinedA.members), ['alice']);
    const inB = new Received(bob.subscribe('room:two-people', { presence: true }) as ClientSubscription<ChatMessage>);
    const joinedB = await withTimeout(inB.subscribed, EVENT_TIMEOUT_MS, 'bob subscribed');
    assert.deepEqual(userIds(joinedB.members), ['alice', 'bob']);
    assert.deepEqual(joinedB.members?.map((member) => member.info).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [
      { name: 'alice' },
      { name: 'bob' },
    ]);
    assert.deepEqual(userIds(await inA.subscription.presence()), ['alice', 'bob']);

    // Both talk at once, three messages each, without waiting for acks in between.
    const sent: ChatMessage[] = [];
    const acks: Promise<unknown>[] = [];
    for (let round = 1; round <= 3; round++) {
      for (const [client, name] of [[alice, 'alice'], [bob, 'bob']] as const) {
        const message = chatMessage(name, `${name} says ${round}`);
        sent.push(message);
        acks.push(client.publish('room:two-people', message));
      }
    }
    await withTimeout(Promise.all(acks), EVENT_TIMEOUT_MS, 'the acks');
    await Promise.all([inA.atLeast(6), inB.atLeast(6)]);

    for (const inbox of [inA, inB]) {
      assert.equal(inbox.publications.length, 6, 'each message once');
      assert.deepEqual(inbox.publications.map(({ meta }) => meta.offset), [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(inbox.publications.map(({ data }) => data).sort((a, b) => a.id.localeCompare(b.id)), sent.slice().sort((a, b) => a.id.localeCompare(b.id)));
      for (const name of ['alice', 'bob']) {
        assert.deepEqual(
          inbox.publications.filter(({ data }) => data.from === name).map(({ data }) => data.text),
          [1, 2, 3].map((round) => `${name} says ${round}`),
          `${name}'s messages in send order`,
        );
      }
    }
    assert.deepEqual(inB.publications, inA.publications, 'one order for both');
  });

  test('room.history returns the last messages with offsets up to where a subscription started; live ones follow from there', async () => {
    const carol = open('carol');
    for (let n = 1; n <= 5; n++) await carol.publish('room:history', chatMessage('carol', `old ${n}`));

    const dave = open('dave');
    const inD = new Received(dave.subscribe('room:history', { presence: true }) as ClientSubscription<ChatMessage>);
    const joined = await withTimeout(inD.subscribed, EVENT_TIMEOUT_MS, 'dave subscribed');
    assert.equal(joined.offset, 5);
    const history = (await dave.call('room.history', { room: 'history', limit: 3, until: joined.offset })) as RoomHistory;
    assert.equal(history.epoch, joined.epoch);
    assert.equal(history.hasEarlier, true);
    assert.deepEqual(history.messages.map((entry) => [entry.offset, entry.data.text]), [[3, 'old 3'], [4, 'old 4'], [5, 'old 5']]);
    assert.ok(history.messages.every((entry) => entry.data.from === 'carol' && Math.abs(entry.time - Date.now()) < 60_000));

    // What comes after the subscription's start arrives live, once; history up to it does not repeat it.
    await carol.publish('room:history', chatMessage('carol', 'new 6'));
    await inD.atLeast(1);
    assert.deepEqual(inD.publications.map(({ data, meta }) => [meta.offset, data.text]), [[6, 'new 6']]);
    const later = (await dave.call('room.history', { room: 'history', until: joined.offset })) as RoomHistory;
    assert.deepEqual(later.messages.map((entry) => entry.offset), [1, 2, 3, 4, 5]);
    assert.equal(later.hasEarlier, false);
    assert.equal(later.offset, 6);
    const all = (await dave.call('room.history', { room: 'history' })) as RoomHistory;
    assert.deepEqual(all.messages.map((entry) => entry.offset), [1, 2, 3, 4, 5, 6]);

    const { rooms } = (await dave.call('room.list', {})) as { rooms: { name: string; online: number }[] };
    assert.equal(rooms[0]?.name, 'lobby', 'the default room comes first');
    assert.deepEqual(rooms.find((room) => room.name === 'history'), { name: 'history', online: 1 });

    for (const params of [{ room: 'Not Clean' }, { room: 'history', limit: 0 }, { room: 'history', limit: 10_000 }, { room: 'history', until: -1 }, null]) {
      await assert.rejects(dave.call('room.history', params), { code: 'BAD_REQUEST' }, JSON.stringify(params));
    }
  });

  test('nicknames come from the token, cleaned; no nickname is a 401; forged senders, bad messages and other channels are refused', async () => {
    assert.deepEqual(await open(`\u202eeve\n  ${'x'.repeat(30)}`).call('chat.whoami', {}), { name: `eve ${'x'.repeat(20)}` });

    const anonymous = new WebSocket(realtimeUrl, ['tidewire.v1.json']);
    const refused = await withTimeout(new Promise<Error>((resolve) => anonymous.once('error', resolve)), EVENT_TIMEOUT_MS, 'the 401');
    assert.match(refused.message, /401/);

    const mallory = open('mallory');
    await assert.rejects(mallory.publish('room:lobby', chatMessage('alice', 'I am alice')), { code: 'FORBIDDEN' });
    await assert.rejects(mallory.publish('room:lobby', { ...chatMessage('mallory', 'x'), extra: true }), { code: 'FORBIDDEN' });
    await assert.rejects(mallory.publish('room:lobby', chatMessage('mallory', '   ')), { code: 'FORBIDDEN' });
    await assert.rejects(mallory.publish('room:lobby', chatMessage('mallory', 'bell \u0007')), { code: 'FORBIDDEN' });
    await assert.rejects(mallory.publish('room:lobby', chatMessage('mallory', 'x'.repeat(2_001))), { code: 'FORBIDDEN' });
    await assert.rejects(mallory.publish('news', chatMessage('mallory', 'not a room')), { code: 'FORBIDDEN' });
    const subscription = mallory.subscribe('room:Not Clean');
    const error = await withTimeout(new Promise<Error>((resolve) => subscription.on('error', resolve)), EVENT_TIMEOUT_MS, 'the refusal');
    assert.equal((error as Error & { code?: string }).code, 'FORBIDDEN');
    assert.deepEqual(await mallory.publish('room:lobby', chatMessage('mallory', 'line one\n\tline two')).then((ack) => typeof ack.offset), 'number');
  });

  test('the page’s whole offline queue, flushed at once on connect, stays within the rate limit: all delivered once, in order', async () => {
    // web/chat.js bounds its client's offline queue; flushing all of it must not trip the server's rate limit.
    const pageScript = readFileSync(fileURLToPath(new URL('../../web/chat.js', import.meta.url)), 'utf8');
    const maxUnsent = Number(/const MAX_UNSENT = (\d+);/.exec(pageScript)?.[1]);
    assert.ok(maxUnsent > 0 && maxUnsent + 10 <= CHAT_RATE_LIMIT.burst, `MAX_UNSENT ${maxUnsent} fits the burst ${CHAT_RATE_LIMIT.burst} with room for the page's other requests`);

    const reader = open('reader');
    const inbox = new Received(reader.subscribe('room:queue') as ClientSubscription<ChatMessage>);
    await withTimeout(inbox.subscribed, EVENT_TIMEOUT_MS, 'subscribed');
    const writer = new RealtimeClient(realtimeUrl, { WebSocket, token: 'writer', maxQueuedPublishes: maxUnsent });
    clients.push(writer);
    // Published before the first hello: all of it waits in the queue, then goes out at once.
    const acks = Array.from({ length: maxUnsent }, (_, n) => writer.publish('room:queue', chatMessage('writer', `queued ${n}`)));
    await assert.rejects(writer.publish('room:queue', chatMessage('writer', 'one too many')), { code: 'QUEUE_FULL' });
    const offsets = (await withTimeout(Promise.all(acks), EVENT_TIMEOUT_MS, 'the acks')).map((ack) => ack.offset);
    assert.deepEqual(offsets, Array.from({ length: maxUnsent }, (_, n) => n + 1));
    await inbox.atLeast(maxUnsent);
    assert.deepEqual(inbox.publications.map(({ data }) => data.text), Array.from({ length: maxUnsent }, (_, n) => `queued ${n}`));
    assert.equal(writer.state, 'connected');
  });

  test('GET /tidewire-realtime.js serves the browser bundle (503 until built); /chat.html loads it', async () => {
    const bundleBuilt = existsSync(fileURLToPath(new URL('../../dist/browser/tidewire-realtime.min.js', import.meta.url)));
    const bundle = await fetch(`${server.url}/tidewire-realtime.js`);
    if (bundleBuilt) {
      assert.equal(bundle.status, 200);
      assert.match(bundle.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.match(await bundle.text(), /RealtimeClient/);
    } else {
      assert.equal(bundle.status, 503);
    }
    const page = await fetch(`${server.url}/chat.html`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.doesNotMatch(html, /https?:\/\//, 'no external resources');
    const script = await (await fetch(`${server.url}/chat.js`)).text();
    assert.match(script, /from '\/tidewire-realtime\.js'/);
    assert.ok((await fetch(`${server.url}/chat.css`)).ok);
    // The index links to it.
    assert.match(await (await fetch(`${server.url}/`)).text(), /href="\/chat\.html"/);
  });
});

test('demo server close() ends realtime sessions with 1001 (the client would reconnect)', async () => {
  const server = await startDemoServer({ port: 0 });
  const client = new RealtimeClient(`${server.url.replace(/^http:/, 'ws:')}/realtime`, { WebSocket, token: 'last' });
  try {
    await withTimeout(new Promise<void>((resolve) => client.on('state', (state) => state === 'connected' && resolve())), EVENT_TIMEOUT_MS, 'connected');
    const dropped = new Promise<number | undefined>((resolve) => client.on('state', (state, info) => state === 'disconnected' && resolve(info.code)));
    await withTimeout(server.close(), EVENT_TIMEOUT_MS, 'close()');
    assert.equal(await withTimeout(dropped, EVENT_TIMEOUT_MS, 'the drop'), 1001);
  } finally {
    client.close();
  }
});

test('chat rooms: at most MAX_CHAT_ROOMS; a full list refuses a new room until an empty room has been idle for ROOM_IDLE_MS', async () => {
  let nowMs = 1_000_000;
  const people = new Map<string, number>();
  const rooms = new ChatRooms(async (room) => people.get(room) ?? 0, () => nowMs);
  for (let n = 1; n < MAX_CHAT_ROOMS; n++) assert.equal(await rooms.use(`room-${n}`), true, `room ${n}`);
  assert.equal((await rooms.list()).length, MAX_CHAT_ROOMS, 'lobby and the others');
  assert.equal(await rooms.use('one-too-many'), false, 'the list is full');
  assert.equal(await rooms.use('room-7'), true, 'a known room is still fine');

  people.set('room-1', 2);
  nowMs += ROOM_IDLE_MS + 1;
  await rooms.use('room-2'); // used just now: stays
  assert.equal(await rooms.use('one-too-many'), true, 'idle empty rooms were forgotten');
  const names = (await rooms.list()).map((room) => room.name);
  assert.deepEqual(names, ['lobby', 'room-1', 'one-too-many', 'room-2'], 'lobby first, then the busiest, then by name');
  assert.deepEqual((await rooms.list())[1], { name: 'room-1', online: 2 });
});
