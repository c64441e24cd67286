// Interop with a real browser: headless Debian Chromium (via playwright-core) loads a page from the
// test's http server, which shares its port with tidewire's WebSocketServer; the page's WebSocket
// exchanges text, binary, 1 MiB and deflated messages, a subprotocol and close codes both ways.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { launchChromium, requireChromium } from '../helpers/chromium.js';
import { WebSocketServer, type WebSocket } from '../../src/index.js';
import { AsyncQueue } from './async-queue.js';
import {
  COMPRESSED_BYTES_BOUND,
  MIB,
  type CloseSeen,
  type Received,
  extensionNames,
  tidewireClosed,
  tidewireMessages,
  within,
} from './support.js';

const TEXT = 'héllo ✓ from the browser';

/** What the page reports of a message it received (see PAGE). */
interface PageSummary {
  type: 'text' | 'binary';
  length: number;
  sha256: string;
  text?: string;
  hex?: string;
}

/**
 * The page's script: one browser WebSocket at a time behind `window.tw`, an inbox of received
 * messages, and the CloseEvent. Plain JavaScript, so nothing of the test's toolchain leaks in.
 */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>tidewire interop</title>
<script>
'use strict';
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const sha256 = async (bytes) => hex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
async function summarize(data) {
  if (typeof data === 'string') {
    const bytes = new TextEncoder().encode(data);
    return { type: 'text', length: bytes.length, sha256: await sha256(bytes), ...(bytes.length <= 256 ? { text: data } : {}) };
  }
  const bytes = new Uint8Array(data);
  return { type: 'binary', length: bytes.length, sha256: await sha256(bytes), ...(bytes.length <= 256 ? { hex: hex(bytes) } : {}) };
}
window.tw = {
  ws: null, inbox: [], waiters: [], closeEvent: null,
  connect(url, protocols) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols);
      ws.binaryType = 'arraybuffer';
      this.ws = ws; this.inbox = []; this.waiters = []; this.closeEvent = null;
      ws.onmessage = (event) => {
        const waiter = this.waiters.shift();
        if (waiter) waiter(event.data); else this.inbox.push(event.data);
      };
      ws.onopen = () => resolve({ protocol: ws.protocol, extensions: ws.extensions, readyState: ws.readyState });
      ws.onerror = () => reject(new Error('error event before open'));
      this.closed = new Promise((done) => {
        ws.onclose = (event) => done({ code: event.code, reason: event.reason, wasClean: event.wasClean });
      });
    });
  },
  next() {
    const data = this.inbox.length > 0 ? Promise.resolve(this.inbox.shift()) : new Promise((r) => this.waiters.push(r));
    return data.then(summarize);
  },
  sendText(text) { this.ws.send(text); },
  sendRepeat(char, count) { this.ws.send(char.repeat(count)); },
  sendRange256() { this.ws.send(Uint8Array.from({ length: 256 }, (_, i) => i).buffer); },
  async sendRandom(length) {
    const bytes = new Uint8Array(length);
    for (let at = 0; at < length; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
    this.ws.send(bytes.buffer);
    return sha256(bytes);
  },
  close(code, reason) { this.ws.close(code, reason); return this.ws.readyState; },
  closed: null,
  whenClosed() { return this.closed; },
};
</script>
<p>tidewire interop page</p>
`;

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Calls `tw.<method>(...args)` in the page; arguments travel as JSON. */
function inPage<T>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(`window.tw.${method}(${args.map((arg) => JSON.stringify(arg)).join(', ')})`) as Promise<T>;
}

interface Peer {
  socket: WebSocket;
  req: IncomingMessage;
  messages: AsyncQueue<Received>;
  closed: Promise<CloseSeen>;
}

test('chromium page WebSocket against the tidewire server', { timeout: 50_000 }, async (t) => {
  if (!(await requireChromium(t))) return;

  const httpServer = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    } else {
      res.writeHead(404).end();
    }
  });
  const server = new WebSocketServer({ server: httpServer, path: '/ws', perMessageDeflate: true });
  const peers = new AsyncQueue<Peer>('tidewire server connections');
  server.on('connection', (socket: WebSocket, req: IncomingMessage) => {
    const closed = tidewireClosed(socket, 'tidewire server close');
    closed.catch(() => {}); // awaited (and reported) by the test that cares
    peers.push({ socket, req, messages: tidewireMessages(socket, 'tidewire server inbox'), closed });
  });
  httpServer.listen(0, '127.0.0.1');
  await within(once(httpServer, 'listening'), 'http server listening');
  const origin = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  const wsUrl = `${origin.replace('http:', 'ws:')}/ws`;

  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${origin}/`);

    const connect = async (): Promise<{ opened: { protocol: string; extensions: string }; peer: Peer }> => {
      const opened = await inPage<{ protocol: string; extensions: string }>(page, 'connect', wsUrl, ['chat.v2', 'chat.v1']);
      return { opened, peer: await peers.next() };
    };
    const closeBoth = async (peer: Peer): Promise<void> => {
      await inPage(page, 'close', 1000, '');
      await peer.closed;
    };

    await t.test('page connects through the shared port with a subprotocol and permessage-deflate', async () => {
      const { opened, peer } = await connect();
      assert.equal(opened.protocol, 'chat.v2', 'default handleProtocols picks the first protocol offered');
      assert.equal(peer.socket.protocol, 'chat.v2');
      assert.deepEqual(extensionNames(opened.extensions), ['permessage-deflate']);
      assert.deepEqual(extensionNames(peer.socket.extensions), ['permessage-deflate']);
      assert.equal(peer.req.headers.origin, origin);
      const plain = await fetch(`${origin}/`);
      assert.equal(plain.status, 200, 'the http server still serves plain requests on the shared port');
      await plain.text();
      await closeBoth(peer);
    });

    await t.test('page sends text and binary; server receives each with its type and the echo comes back intact', async () => {
      const { peer } = await connect();
      await inPage(page, 'sendText', TEXT);
      const text = await peer.messages.next();
      assert.equal(text.isBinary, false);
      assert.equal(text.data.toString(), TEXT);
      peer.socket.send(text.data, { binary: false });
      assert.deepEqual(await inPage<PageSummary>(page, 'next'), {
        type: 'text',
        length: Buffer.byteLength(TEXT),
        sha256: sha256(TEXT),
        text: TEXT,
      });

      await inPage(page, 'sendRange256');
      const binary = await peer.messages.next();
      assert.equal(binary.isBinary, true);
      assert.deepEqual(binary.data, Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
      peer.socket.send(binary.data, { binary: true });
      const echo = await inPage<PageSummary>(page, 'next');
      assert.equal(echo.type, 'binary', 'binaryType arraybuffer: an ArrayBuffer arrived');
      assert.equal(echo.hex, binary.data.toString('hex'));
      await closeBoth(peer);
    });

    await t.test('page and server exchange 1 MiB binary messages intact', async () => {
      const { peer } = await connect();
      const sentHash = await inPage<string>(page, 'sendRandom', MIB);
      const up = await peer.messages.next();
      assert.equal(up.isBinary, true);
      assert.equal(up.data.length, MIB);
      assert.equal(sha256(up.data), sentHash);

      const down = randomBytes(MIB);
      peer.socket.send(down);
      assert.deepEqual(await inPage<PageSummary>(page, 'next'), { type: 'binary', length: MIB, sha256: sha256(down) });
      await closeBoth(peer);
    });

    await t.test('page and server exchange 1 MiB of compressible text deflated on the wire both ways', async () => {
      const { peer } = await connect();
      const wire = peer.req.socket;
      const text = 'a'.repeat(MIB);

      const readBefore = wire.bytesRead;
      await inPage(page, 'sendRepeat', 'a', MIB);
      const up = await peer.messages.next();
      assert.equal(up.isBinary, false);
      assert.ok(up.data.toString() === text, 'server received different text');
      const upWire = wire.bytesRead - readBefore;
      assert.ok(upWire < COMPRESSED_BYTES_BOUND, `chromium sent ${upWire} wire bytes for 1 MiB of "a"`);

      const writtenBefore = wire.bytesWritten;
      peer.socket.send(text, { compress: true });
      assert.deepEqual(await inPage<PageSummary>(page, 'next'), { type: 'text', length: MIB, sha256: sha256(text) });
      const downWire = wire.bytesWritten - writtenBefore;
      assert.ok(downWire < COMPRESSED_BYTES_BOUND, `server sent ${downWire} wire bytes for 1 MiB of "a": not deflated`);
      await closeBoth(peer);
    });

    await t.test('page closes with 4001 "bye"; server sees 4001 and "bye", and the page\'s CloseEvent is clean', async () => {
      const { peer } = await connect();
      assert.equal(await inPage<number>(page, 'close', 4001, 'bye'), 2, 'page readyState is CLOSING');
      assert.deepEqual(await peer.closed, { code: 4001, reason: 'bye', wasClean: true });
      const pageSaw = await inPage<CloseSeen>(page, 'whenClosed');
      assert.equal(pageSaw.code, 4001, 'the server echoes the close code (RFC 6455 §5.5.1)');
      assert.equal(pageSaw.wasClean, true);
    });

    await t.test('server closes with 4002; the page\'s CloseEvent has code 4002, the reason and wasClean true', async () => {
      const { peer } = await connect();
      peer.socket.close(4002, 'server bye');
      assert.deepEqual(await inPage<CloseSeen>(page, 'whenClosed'), { code: 4002, reason: 'server bye', wasClean: true });
      const serverSaw = await peer.closed;
      assert.equal(serverSaw.code, 4002, 'chromium echoes the close code; the server reports the code it received');
      assert.equal(serverSaw.wasClean, true);
    });
  } finally {
    await browser.close();
    await within(new Promise<void>((resolve) => server.close(() => resolve())), 'tidewire server close', 5_000);
    httpServer.closeAllConnections();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  }
});
