// The demo server in-process on a free port, spoken to over real sockets: the page, /echo,
// /clock (one shared once-a-second tick), /chat (one total order for everyone, join/leave
// notices, cleaned nicknames) and the 404s.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startDemoServer, type DemoServer } from '../../src/cli/demo-server.js';
import { WebSocket } from '../../src/index.js';
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
