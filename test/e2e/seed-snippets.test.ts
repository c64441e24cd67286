// The seeds' Node servers (examples/seeds/*.mjs, each the article's code with `ws` swapped for
// `tidewire`) run as child processes on a free port; a client talks to each the way the
// article's browser client does (onopen / onmessage / send) and checks the replies.
// The snippets import the built package (`tidewire` → dist/), so `npm run build` comes first.

import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { WebSocket } from '../../src/index.js';
import { watchOutput, type OutputStream } from '../helpers/child-output.js';
import { unusedPort } from '../helpers/free-port.js';
import { withTimeout } from '../helpers/with-timeout.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SEEDS = fileURLToPath(new URL('../../examples/seeds/', import.meta.url));
const STARTUP_TIMEOUT_MS = 15_000;
const EVENT_TIMEOUT_MS = 5_000;

/** Resolves once a TCP connect to the port succeeds; each try waits for 'connect' or 'error'. */
async function portAccepts(port: number, child: ChildProcessWithoutNullStreams): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`seed exited with ${child.exitCode} before listening`);
    const socket = connect(port, '127.0.0.1');
    const outcome = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
    });
    socket.destroy();
    if (outcome) return;
    await delay(50);
  }
}

interface Seed {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once the seed has printed a line matching the pattern. */
  printed: (pattern: RegExp, stream?: 'stdout' | 'stderr') => Promise<void>;
}

const running = new Set<ChildProcessWithoutNullStreams>();

async function runSeed(file: string): Promise<Seed> {
  const port = await unusedPort();
  const child = spawn(process.execPath, [`${SEEDS}${file}`], { cwd: REPO_ROOT, env: { ...process.env, PORT: String(port) } });
  running.add(child);
  const output = watchOutput(child);
  const shown = (): string => JSON.stringify({ stdout: output.stdout(), stderr: output.stderr() });
  const printed = async (pattern: RegExp, stream: OutputStream = 'stdout'): Promise<void> => {
    const what = `${pattern} on the seed's ${stream} (${shown()})`;
    await withTimeout(output.printed(pattern, stream), EVENT_TIMEOUT_MS, what);
  };
  await withTimeout(portAccepts(port, child), STARTUP_TIMEOUT_MS, `${file} to listen (${shown()})`);
  return { child, url: `ws://localhost:${port}`, stdout: output.stdout, stderr: output.stderr, printed };
}

function stopSeed(seed: Seed | undefined): void {
  if (seed === undefined) return;
  seed.child.kill('SIGKILL');
  running.delete(seed.child);
}

/** A client used like the articles' browser code: onopen, onmessage, onclose, event.data. */
class PageClient {
  readonly ws: WebSocket;
  readonly data: unknown[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string; wasClean: boolean }>;
  #wake: (() => void) | undefined;
  #taken = 0;

  constructor(url: string, options?: { origin?: string }) {
    this.ws = new WebSocket(url, undefined, options);
    this.opened = new Promise<void>((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.ws.onerror = () => reject(new Error(`could not connect to ${url}`));
    });
    // A client that is expected to be turned away never has `opened` awaited.
    this.opened.catch(() => {});
    this.ws.onmessage = (event: { data: unknown }) => {
      this.data.push(event.data);
      this.#wake?.();
    };
    this.closed = new Promise((resolve) => {
      this.ws.onclose = (event: { code: number; reason: string; wasClean: boolean }) =>
        resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean });
    });
  }

  static async open(url: string, options?: { origin?: string }): Promise<PageClient> {
    const client = new PageClient(url, options);
    await withTimeout(client.opened, EVENT_TIMEOUT_MS, `open ${url}`);
    return client;
  }

  async next(timeoutMs = EVENT_TIMEOUT_MS): Promise<unknown> {
    while (this.data.length <= this.#taken) {
      await withTimeout(new Promise<void>((resolve) => (this.#wake = resolve)), timeoutMs, 'a message');
    }
    return this.data[this.#taken++];
  }

  async nextText(timeoutMs?: number): Promise<string> {
    const data = await this.next(timeoutMs);
    assert.equal(typeof data, 'string', 'a text message');
    return data as string;
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close(1000);
    await withTimeout(this.closed, EVENT_TIMEOUT_MS, 'close');
  }
}

/**
 * The seeds send back the Buffer they received (`ws.send(data)`); a Buffer goes out as a
 * binary frame, as with ws, so the page gets a Blob (the default binaryType).
 */
async function blobText(data: unknown): Promise<string> {
  assert.ok(data instanceof Blob, `a Blob, got ${typeof data}`);
  return data.text();
}

describe('seed snippets (examples/seeds)', () => {
  before(() => {
    assert.ok(existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url))), 'dist/ is missing: run `npm run build` first');
  });
  after(() => {
    for (const child of running) child.kill('SIGKILL');
  });

  test('004-echo-server: a message comes back unchanged', async (t) => {
    const seed = await runSeed('004-echo-server.mjs');
    t.after(() => stopSeed(seed));
    await seed.printed(/^Listening on \d+$/m);
    const page = await PageClient.open(seed.url);
    await seed.printed(/Client connected/);
    page.ws.send('hello, server');
    assert.equal(await blobText(await page.next()), 'hello, server');
    page.ws.send(new Uint8Array([1, 2, 3]));
    assert.deepEqual([...new Uint8Array(await ((await page.next()) as Blob).arrayBuffer())], [1, 2, 3]);
    await page.close();
    await seed.printed(/Close connected/);
  });

  test('004-timed-push: the time every second, and the orphaned timer of a gone client is harmless', async (t) => {
    const seed = await runSeed('004-timed-push.mjs');
    t.after(() => stopSeed(seed));
    const first = await PageClient.open(seed.url);
    for (let i = 0; i < 2; i++) {
      const text = await first.nextText(2_500);
      assert.ok(!Number.isNaN(Date.parse(text)), `a date: ${text}`);
    }
    await first.close();
    await seed.printed(/Close connected/);

    // The seed never clears its interval: the first client's timer keeps firing after it left
    // (at least once while the second client below waits for two ticks). Sending on the closed
    // connection must neither throw nor kill the server, as with ws.
    const second = await PageClient.open(seed.url);
    for (let i = 0; i < 2; i++) assert.ok(!Number.isNaN(Date.parse(await second.nextText(2_500))));
    await second.close();
    assert.equal(seed.child.exitCode, null, `the server is still running (stderr: ${seed.stderr()})`);
    assert.doesNotMatch(seed.stderr(), /Error/);
  });

  test('004-broadcast-chat: every message reaches every client, the sender included', async (t) => {
    const seed = await runSeed('004-broadcast-chat.mjs');
    t.after(() => stopSeed(seed));
    const alice = await PageClient.open(seed.url);
    const bob = await PageClient.open(seed.url);
    alice.ws.send('hi from alice');
    assert.equal(await blobText(await alice.next()), 'hi from alice');
    assert.equal(await blobText(await bob.next()), 'hi from alice');
    bob.ws.send('hi from bob');
    assert.equal(await blobText(await alice.next()), 'hi from bob');
    assert.equal(await blobText(await bob.next()), 'hi from bob');
    await Promise.all([alice.close(), bob.close()]);
  });

  test('002-message-ack: each message is acknowledged with its id', async (t) => {
    const seed = await runSeed('002-message-ack.mjs');
    t.after(() => stopSeed(seed));
    const page = await PageClient.open(seed.url);
    page.ws.send(JSON.stringify({ id: 1, content: 'Hello, Server!' }));
    page.ws.send(JSON.stringify({ id: 2, content: 'again' }));
    assert.deepEqual(JSON.parse(await page.nextText()), { id: 1, status: 'received' });
    assert.deepEqual(JSON.parse(await page.nextText()), { id: 2, status: 'received' });
    await seed.printed(/Received message with ID: 2/);
    await page.close();
  });

  test('002-dedup: a repeated id is acknowledged once', async (t) => {
    const seed = await runSeed('002-dedup.mjs');
    t.after(() => stopSeed(seed));
    const page = await PageClient.open(seed.url);
    for (const id of [1, 1, 2]) page.ws.send(JSON.stringify({ id, content: 'Hello, Server!' }));
    assert.deepEqual(JSON.parse(await page.nextText()), { id: 1, status: 'received' });
    // Replies keep the order of requests, so the reply to 2 coming next proves the duplicate got none.
    assert.deepEqual(JSON.parse(await page.nextText()), { id: 2, status: 'received' });
    await seed.printed(/Duplicate message ignored: 1/);
    await page.close();
  });

  test('002-origin-check: a foreign origin is closed, https://example.com stays connected', async (t) => {
    const seed = await runSeed('002-origin-check.mjs');
    t.after(() => stopSeed(seed));

    const friend = await PageClient.open(seed.url, { origin: 'https://example.com' });
    // A ping answered proves the connection outlived the connection handler.
    const pong = new Promise<Buffer>((resolve) => friend.ws.once('pong', resolve));
    friend.ws.ping(Buffer.from('still there?'));
    assert.equal((await withTimeout(pong, EVENT_TIMEOUT_MS, 'the pong')).toString(), 'still there?');
    assert.equal(friend.ws.readyState, WebSocket.OPEN);
    await friend.close();
    assert.doesNotMatch(seed.stderr(), /https:\/\/example\.com/);

    const intruder = new PageClient(seed.url, { origin: 'http://evil.example' });
    // Promptly: well before the 5 s close timeout that would end a stalled closing handshake.
    const closed = await withTimeout(intruder.closed, 2_000, 'the close');
    // ws.close() without a code: the close frame carries no status, seen as 1005 (RFC 6455 §7.1.5).
    assert.deepEqual(closed, { code: 1005, reason: '', wasClean: true });
    await seed.printed(/Unauthorized origin: http:\/\/evil\.example/, 'stderr');
  });
});
