// `tidewire echo` as a real child process (through tsx, no build needed), spoken to with our
// own client: types and bytes survive the round trip, the flags take effect, SIGTERM is clean.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from '../../src/index.js';
import { watchOutput } from '../helpers/child-output.js';
import { REPO_ROOT, cliArgs } from '../helpers/cli-process.js';
import { withTimeout } from '../helpers/with-timeout.js';

const STARTUP_TIMEOUT_MS = 20_000;
const EVENT_TIMEOUT_MS = 5_000;

interface EchoProcess {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

/** Spawns `tidewire echo --port 0 …` and resolves with the URL from its "listening" line. */
async function startEcho(...flags: string[]): Promise<EchoProcess> {
  const child = spawn(process.execPath, cliArgs('echo', '--port', '0', ...flags), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = watchOutput(child);
  const [, url] = await withTimeout(
    new Promise<RegExpExecArray>((resolve, reject) => {
      void output.printed(/^tidewire echo listening on (ws:\/\/\S+)$/m).then(resolve);
      child.once('exit', (code) => reject(new Error(`echo exited with ${code} before listening: ${output.stderr()}`)));
    }),
    STARTUP_TIMEOUT_MS,
    'the "listening" line',
  );
  return { child, url: url!, stderr: output.stderr };
}

async function openClient(url: string, options: { maxPayload?: number; perMessageDeflate?: boolean } = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, undefined, options);
  await withTimeout(once(ws, 'open'), EVENT_TIMEOUT_MS, 'open');
  return ws;
}

/** Sends one message and resolves with the echo: [data, isBinary]. */
async function roundTrip(ws: WebSocket, data: string | Buffer, binary: boolean): Promise<[Buffer, boolean]> {
  const reply = once(ws, 'message') as Promise<[Buffer, boolean]>;
  ws.send(data, { binary });
  return withTimeout(reply, EVENT_TIMEOUT_MS, 'the echo');
}

async function closeClient(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  const closed = nextEvent(ws, 'close');
  ws.close(1000);
  await withTimeout(closed, EVENT_TIMEOUT_MS, 'close');
}

/** The arguments of the next `event`, without events.once()'s habit of rejecting on 'error'. */
function nextEvent<T extends unknown[]>(emitter: { once(event: string, listener: (...args: any[]) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args as T)));
}

function stop(child: ChildProcess | undefined): void {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

describe('tidewire echo (deflate on, 64 MiB limit as for Autobahn)', () => {
  let echo: EchoProcess;
  let ws: WebSocket;

  before(async () => {
    echo = await startEcho('--max-message-bytes', String(64 * 1024 * 1024));
    ws = await openClient(echo.url, { maxPayload: 64 * 1024 * 1024 });
  });
  after(() => stop(echo?.child));

  test('prints ws://127.0.0.1:<port> with the port it got', () => {
    assert.match(echo.url, /^ws:\/\/127\.0\.0\.1:[1-9]\d*$/);
  });

  test('server accepts permessage-deflate when offered', () => {
    assert.match(ws.extensions, /permessage-deflate/);
  });

  test('server echoes text as text', async () => {
    const [data, isBinary] = await roundTrip(ws, 'héllo, 世界 👋', false);
    assert.equal(isBinary, false);
    assert.equal(data.toString('utf8'), 'héllo, 世界 👋');
  });

  test('server echoes binary as binary', async () => {
    const bytes = Buffer.from([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff]);
    const [data, isBinary] = await roundTrip(ws, bytes, true);
    assert.equal(isBinary, true);
    assert.deepEqual(Buffer.from(data), bytes);
  });

  test('server echoes a 1 MiB binary message byte for byte', async () => {
    const bytes = randomBytes(1024 * 1024);
    const [data, isBinary] = await roundTrip(ws, bytes, true);
    assert.equal(isBinary, true);
    assert.equal(data.length, bytes.length);
    assert.ok(Buffer.from(data).equals(bytes), 'payload differs');
  });

  test('server echoes a 1 MiB text message', async () => {
    const text = 'tidewire '.repeat(Math.ceil((1024 * 1024) / 9)).slice(0, 1024 * 1024);
    const [data, isBinary] = await roundTrip(ws, text, false);
    assert.equal(isBinary, false);
    assert.equal(data.toString('utf8'), text);
  });

  test('server echoes empty text and empty binary messages with their type', async () => {
    const [text, textIsBinary] = await roundTrip(ws, '', false);
    assert.equal(textIsBinary, false);
    assert.equal(text.length, 0);
    const [binary, binaryIsBinary] = await roundTrip(ws, Buffer.alloc(0), true);
    assert.equal(binaryIsBinary, true);
    assert.equal(binary.length, 0);
  });

  test('server keeps message order for a burst of mixed messages', async () => {
    const received: string[] = [];
    const done = new Promise<void>((resolve) => {
      const onMessage = (data: Buffer, isBinary: boolean): void => {
        received.push(`${isBinary ? 'b' : 't'}:${data.toString('utf8')}`);
        if (received.length === 100) {
          ws.off('message', onMessage);
          resolve();
        }
      };
      ws.on('message', onMessage);
    });
    const sent: string[] = [];
    for (let i = 0; i < 100; i++) {
      const binary = i % 3 === 0;
      ws.send(binary ? Buffer.from(String(i)) : String(i), { binary });
      sent.push(`${binary ? 'b' : 't'}:${i}`);
    }
    await withTimeout(done, EVENT_TIMEOUT_MS, '100 echoes');
    assert.deepEqual(received, sent);
  });

  test('SIGTERM closes connections with 1001 and exits with 0', async () => {
    const clientClosed = nextEvent<[number, Buffer]>(ws, 'close');
    const exited = once(echo.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    echo.child.kill('SIGTERM');
    const [code] = await withTimeout(clientClosed, EVENT_TIMEOUT_MS, 'the client close');
    assert.equal(code, 1001);
    const [exitCode, signal] = await withTimeout(exited, EVENT_TIMEOUT_MS, 'the process exit');
    assert.deepEqual({ exitCode, signal }, { exitCode: 0, signal: null }, echo.stderr());
  });
});

describe('tidewire echo --no-deflate --max-message-bytes 1024', () => {
  let echo: EchoProcess;

  before(async () => {
    echo = await startEcho('--no-deflate', '--max-message-bytes', '1024');
  });
  after(() => stop(echo?.child));

  test('server refuses permessage-deflate: extensions stay empty', async () => {
    const ws = await openClient(echo.url, { perMessageDeflate: true });
    assert.equal(ws.extensions, '');
    await closeClient(ws);
  });

  test('server echoes a message of exactly 1024 bytes', async () => {
    const ws = await openClient(echo.url);
    const [data] = await roundTrip(ws, Buffer.alloc(1024, 7), true);
    assert.equal(data.length, 1024);
    await closeClient(ws);
  });

  test('server closes with 1009 on a 1025-byte message', async () => {
    const ws = await openClient(echo.url);
    ws.on('error', () => {});
    const closed = nextEvent<[number, Buffer]>(ws, 'close');
    ws.send(Buffer.alloc(1025, 7));
    const [code] = await withTimeout(closed, EVENT_TIMEOUT_MS, 'the 1009 close');
    assert.equal(code, 1009);
  });

  test('SIGINT exits with 0 too', async () => {
    const exited = once(echo.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    echo.child.kill('SIGINT');
    const [exitCode, signal] = await withTimeout(exited, EVENT_TIMEOUT_MS, 'the process exit');
    assert.deepEqual({ exitCode, signal }, { exitCode: 0, signal: null }, echo.stderr());
  });
});

test('tidewire echo rejects a non-numeric --max-message-bytes before listening', async () => {
  const child = spawn(process.execPath, cliArgs('echo', '--port', '0', '--max-message-bytes', '1e3'), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = watchOutput(child);
  const [exitCode] = (await withTimeout(once(child, 'exit'), STARTUP_TIMEOUT_MS, 'the process exit')) as [number | null];
  assert.notEqual(exitCode, 0);
  assert.match(output.stderr(), /max-message-bytes/);
});
