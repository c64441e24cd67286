// `tidewire connect` as a real child process with piped stdin, against an in-process
// WebSocketServer that records what arrives: lines, headers, subprotocol, close code and reason.

import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { watchOutput } from '../helpers/child-output.js';
import { REPO_ROOT, cliArgs } from '../helpers/cli-process.js';
import { unusedPort } from '../helpers/free-port.js';
import { withTimeout } from '../helpers/with-timeout.js';

// tsx compiles the CLI at startup; the first connection can take a few seconds on a cold cache.
const STARTUP_TIMEOUT_MS = 20_000;
const EVENT_TIMEOUT_MS = 5_000;

/** One connection as the server saw it. */
interface ServerSide {
  ws: WebSocket;
  req: IncomingMessage;
  messages: string[];
  closed: Promise<{ code: number; reason: string }>;
}

interface ConnectProcess {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once stdout matches. */
  waitForStdout: (pattern: RegExp) => Promise<void>;
  exited: Promise<number | null>;
}

function runConnect(...args: string[]): ConnectProcess {
  const child = spawn(process.execPath, cliArgs('connect', ...args), { cwd: REPO_ROOT });
  const output = watchOutput(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitForStdout = async (pattern: RegExp): Promise<void> => {
    const what = `${pattern} on stdout (stdout: ${JSON.stringify(output.stdout())}, stderr: ${JSON.stringify(output.stderr())})`;
    await withTimeout(output.printed(pattern), STARTUP_TIMEOUT_MS, what);
  };
  return { child, stdout: output.stdout, stderr: output.stderr, waitForStdout, exited };
}

describe('tidewire connect', () => {
  let wss: WebSocketServer;
  let url: string;
  const connections: ServerSide[] = [];
  const waiting: ((side: ServerSide) => void)[] = [];

  /** The next connection the server accepts. */
  const nextConnection = (): Promise<ServerSide> => {
    const ready = connections.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return withTimeout(new Promise((resolve) => waiting.push(resolve)), STARTUP_TIMEOUT_MS, 'a connection');
  };

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeatIntervalMs: 0 });
    wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
      const messages: string[] = [];
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        ws.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString('utf8') })),
      );
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        const text = data.toString('utf8');
        messages.push(text);
        if (!isBinary) ws.send(`echo: ${text}`);
      });
      // Greets with one text and one binary message, so the client prints both kinds.
      ws.send('hello from server');
      ws.send(Buffer.from([1, 2, 3, 0xff]), { binary: true });
      const side = { ws, req, messages, closed };
      const waiter = waiting.shift();
      if (waiter === undefined) connections.push(side);
      else waiter(side);
    });
    await once(wss, 'listening');
    const address = wss.address();
    assert.ok(typeof address === 'object' && address !== null);
    url = `ws://127.0.0.1:${address.port}/room?x=1`;
  });

  after(async () => {
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  test('client sends lines, prints messages, sends headers and subprotocols, closes with /close 4000 bye', async () => {
    const cli = runConnect(url, '-H', 'X-Token: abc123', '-H', 'X-Trace: one', '-s', 'chat.v2', '-s', 'chat.v1');
    const server = await nextConnection();

    assert.equal(server.req.headers['x-token'], 'abc123');
    assert.equal(server.req.headers['x-trace'], 'one');
    assert.equal(server.req.url, '/room?x=1');
    assert.equal(server.req.headers['sec-websocket-protocol'], 'chat.v2, chat.v1');
    assert.equal(server.ws.protocol, 'chat.v2');

    await cli.waitForStdout(/^< \[binary 4 bytes\] 01 02 03 ff$/m);
    assert.match(cli.stdout(), /^< hello from server$/m);
    assert.match(cli.stderr(), /connected \(protocol: chat\.v2/);

    cli.child.stdin.write('first line\nsecond line with spaces  \n//slash\n');
    await cli.waitForStdout(/^< echo: \/slash$/m);
    assert.deepEqual(server.messages, ['first line', 'second line with spaces  ', '/slash']);
    assert.match(cli.stdout(), /^< echo: first line\n< echo: second line with spaces {2}\n< echo: \/slash$/m);

    cli.child.stdin.write('/ping are you there\n');
    await cli.waitForStdout(/^< \[pong\] are you there$/m);

    cli.child.stdin.write('/close 4000 bye\n');
    const closed = await withTimeout(server.closed, EVENT_TIMEOUT_MS, 'the close frame');
    assert.deepEqual(closed, { code: 4000, reason: 'bye' });
    assert.equal(await withTimeout(cli.exited, EVENT_TIMEOUT_MS, 'the exit'), 0, cli.stderr());
    assert.deepEqual(server.messages, ['first line', 'second line with spaces  ', '/slash'], 'commands are not sent as messages');
  });

  test('client closes with 1000 when stdin ends, after sending what was piped', async () => {
    const cli = runConnect(url);
    const server = await nextConnection();
    cli.child.stdin.end('one\ntwo\n');
    const closed = await withTimeout(server.closed, STARTUP_TIMEOUT_MS, 'the close frame');
    assert.equal(closed.code, 1000);
    assert.deepEqual(server.messages, ['one', 'two']);
    assert.equal(await withTimeout(cli.exited, EVENT_TIMEOUT_MS, 'the exit'), 0, cli.stderr());
  });

  test('client exits with 0 when the server closes cleanly', async () => {
    const cli = runConnect(url);
    const server = await nextConnection();
    await cli.waitForStdout(/hello from server/);
    server.ws.close(4001, 'server says bye');
    assert.equal(await withTimeout(cli.exited, EVENT_TIMEOUT_MS, 'the exit'), 0, cli.stderr());
    assert.match(cli.stderr(), /closed \(code 4001 "server says bye"\)/);
  });

  test('client reports an invalid close code and stays connected', async () => {
    const cli = runConnect(url);
    const server = await nextConnection();
    await cli.waitForStdout(/hello from server/);
    cli.child.stdin.write('/close 1006\nstill here\n');
    await cli.waitForStdout(/^< echo: still here$/m);
    assert.ok(cli.stderr().length > 0);
    cli.child.stdin.end();
    assert.equal((await withTimeout(server.closed, EVENT_TIMEOUT_MS, 'the close frame')).code, 1000);
    assert.equal(await withTimeout(cli.exited, EVENT_TIMEOUT_MS, 'the exit'), 0, cli.stderr());
  });

  test('client exits with 1 when nothing listens on the port', async () => {
    const cli = runConnect(`ws://127.0.0.1:${await unusedPort('127.0.0.1')}/`);
    cli.child.stdin.end();
    assert.equal(await withTimeout(cli.exited, STARTUP_TIMEOUT_MS, 'the exit'), 1);
    assert.match(cli.stderr(), /error|disconnected/);
  });

  test('client exits with 1 on a URL it cannot use', async () => {
    const cli = runConnect('ftp://127.0.0.1/');
    cli.child.stdin.end();
    assert.equal(await withTimeout(cli.exited, STARTUP_TIMEOUT_MS, 'the exit'), 1);
    assert.match(cli.stderr(), /error/);
  });
});
