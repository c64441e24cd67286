// Interop with Python's websockets (Debian's python3-websockets, asyncio API) over real sockets, both
// ways round. The Python peers (python/*.py) print what they saw as JSON lines; each test asserts on
// both sides: text, binary, 1 MiB, fragments, permessage-deflate, subprotocols, close codes, ping.

import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { requireTool } from '../helpers/external-tool.js';
import {
  COMPRESSED_BYTES_BOUND,
  MIB,
  type CloseSeen,
  extensionNames,
  portOf,
  tidewireClosed,
  tidewireMessages,
  within,
} from './support.js';

/** Debian's interpreter, which has python3-websockets; not whatever `python3` comes first on PATH. */
const PYTHON = '/usr/bin/python3';
const SCRIPTS = fileURLToPath(new URL('./python/', import.meta.url));
const HOW_TO_INSTALL = 'apt-get install -y --no-install-recommends python3-websockets (tests run /usr/bin/python3)';
const TEXT = 'héllo ✓ from tidewire';
/** No __pycache__ beside the scripts in the source tree. */
const PYTHON_ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };

interface PySummary {
  type: 'text' | 'binary';
  length: number;
  sha256: string;
  text?: string;
  hex?: string;
}

/** One JSON line of client.py (`step`) or server.py (`event`). Unset fields depend on the line. */
interface PyLine {
  step?: string;
  event?: string;
  path?: string;
  ok?: boolean;
  sent?: PySummary;
  received?: PySummary;
  subprotocol?: string | null;
  extensions?: string | null;
  code?: number | null;
  reason?: string | null;
  sent_code?: number | null;
  clean?: boolean;
  port?: number;
  version?: string;
  type?: 'text' | 'binary';
  length?: number;
  sha256?: string;
  text?: string;
  hex?: string;
}

function parseLine(line: string): PyLine {
  const value: unknown = JSON.parse(line);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`python peer printed a non-object line: ${line}`);
  }
  return value as PyLine;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function websocketsVersion(): string | undefined {
  const result = spawnSync(PYTHON, ['-c', 'import websockets; print(websockets.__version__)'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function requirePython(t: TestContext): Promise<boolean> {
  return requireTool(
    t,
    'python3-websockets',
    () => {
      const version = websocketsVersion();
      return version !== undefined && Number(version.split('.')[0]) >= 10;
    },
    HOW_TO_INSTALL,
  );
}

/** Runs client.py to completion and returns its JSON lines. */
function runPythonClient(url: string, scenario: string): Promise<PyLine[]> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [join(SCRIPTS, 'client.py'), url, scenario],
      { cwd: SCRIPTS, env: PYTHON_ENV, timeout: 20_000, maxBuffer: 4 * MIB },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`client.py ${url} ${scenario} failed: ${error.message}\n${stdout}\n${stderr}`));
        else resolve(stdout.split('\n').filter((line) => line !== '').map(parseLine));
      },
    );
  });
}

function step(lines: PyLine[], name: string): PyLine {
  const found = lines.find((line) => line.step === name);
  assert.ok(found, `python client never reported step "${name}"; it printed:\n${JSON.stringify(lines, null, 1)}`);
  return found;
}

/** server.py as a child process: its JSON lines, and waits for a matching one. */
class PythonServer {
  readonly lines: PyLine[] = [];
  readonly #arrived = new Set<() => void>();
  #stderr = '';

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      this.lines.push(parseLine(line));
      for (const notify of this.#arrived) notify();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
  }

  static async start(): Promise<{ server: PythonServer; port: number }> {
    const child = spawn(PYTHON, [join(SCRIPTS, 'server.py')], { cwd: SCRIPTS, env: PYTHON_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    const server = new PythonServer(child);
    const listening = await server.waitFor((line) => line.event === 'listening', 'server.py listening');
    assert.ok(typeof listening.port === 'number');
    return { server, port: listening.port };
  }

  waitFor(predicate: (line: PyLine) => boolean, label: string, timeoutMs = 10_000): Promise<PyLine> {
    const found = this.lines.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const line = this.lines.find(predicate);
        if (!line) return;
        this.#arrived.delete(check);
        clearTimeout(timer);
        resolve(line);
      };
      const timer = setTimeout(() => {
        this.#arrived.delete(check);
        reject(new Error(`${label}: server.py printed nothing matching within ${timeoutMs} ms; stderr:\n${this.#stderr}`));
      }, timeoutMs);
      this.#arrived.add(check);
    });
  }

  event(path: string, event: string): Promise<PyLine> {
    return this.waitFor((line) => line.path === path && line.event === event, `server.py ${event} on ${path}`);
  }

  /** Closing stdin asks server.py to exit; a kill backs that up. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** A connection accepted by the tidewire server, with wire byte counts taken at each message. */
interface ServerConnection {
  path: string;
  socket: WebSocket;
  arrivals: { data: Buffer; isBinary: boolean; bytesRead: number; bytesWritten: number }[];
  closed: Promise<CloseSeen>;
}

test('python websockets client against the tidewire server', { timeout: 45_000 }, async (t) => {
  if (!(await requirePython(t))) return;

  const connections: ServerConnection[] = [];
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
  server.on('connection', (socket: WebSocket, req: IncomingMessage) => {
    const path = req.url ?? '/';
    const closed = tidewireClosed(socket, `tidewire server close on ${path}`);
    closed.catch(() => {}); // awaited (and reported) by the test that cares
    const connection: ServerConnection = { path, socket, arrivals: [], closed };
    connections.push(connection);
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      connection.arrivals.push({ data, isBinary, bytesRead: req.socket.bytesRead, bytesWritten: req.socket.bytesWritten });
      socket.send(data, { binary: isBinary, compress: true });
    });
    if (path.startsWith('/close-1000')) socket.close(1000, 'server done');
    if (path.startsWith('/close-4000')) socket.close(4000, 'server bye');
  });
  await within(once(server, 'listening'), 'tidewire server listening');
  const base = `ws://127.0.0.1:${portOf(server)}`;
  const accepted = (path: string): ServerConnection => {
    const connection = connections.find((c) => c.path === path);
    assert.ok(connection, `tidewire server never accepted ${path}`);
    return connection;
  };

  try {
    await t.test('server negotiates a subprotocol and permessage-deflate, and echoes the whole python matrix intact', async () => {
      const lines = await runPythonClient(`${base}/echo/matrix`, 'matrix');
      const open = step(lines, 'open');
      assert.equal(open.subprotocol, 'chat.v2', 'default handleProtocols picks the first protocol offered');
      assert.deepEqual(extensionNames(open.extensions ?? ''), ['permessage-deflate']);
      for (const name of ['text', 'binary', '1mib-random', '1mib-compressible', 'fragmented-text', 'fragmented-binary', 'ping']) {
        const line = step(lines, name);
        assert.equal(line.ok, true, `echo of "${name}" differs: ${JSON.stringify(line)}`);
      }

      const connection = accepted('/echo/matrix');
      assert.equal(connection.socket.protocol, 'chat.v2');
      assert.deepEqual(extensionNames(connection.socket.extensions), ['permessage-deflate']);
      const kinds = connection.arrivals.map((a) => [a.isBinary ? 'binary' : 'text', a.data.length]);
      assert.deepEqual(kinds, [
        ['text', Buffer.byteLength('héllo ✓ from python')],
        ['binary', 256],
        ['binary', MIB],
        ['text', MIB],
        ['text', Buffer.byteLength('fragmented ✓')],
        ['binary', 6],
      ]);
      const [text, binary, random, compressible, fragmentedText, fragmentedBinary] = connection.arrivals;
      assert.equal(text?.data.toString(), 'héllo ✓ from python');
      assert.equal(binary?.data.toString('hex'), Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('hex'));
      assert.equal(sha256(random?.data ?? ''), step(lines, '1mib-random').sent?.sha256);
      assert.ok(compressible?.data.toString() === 'a'.repeat(MIB), '1 MiB of "a" arrived altered');
      assert.equal(fragmentedText?.data.toString(), 'fragmented ✓');
      assert.equal(fragmentedBinary?.data.toString('hex'), '00010203feff');

      // Python deflates every message once permessage-deflate is on: 1 MiB of "a" is a few KiB on the wire.
      const upWire = (compressible?.bytesRead ?? 0) - (random?.bytesRead ?? 0);
      assert.ok(upWire < COMPRESSED_BYTES_BOUND, `python sent ${upWire} wire bytes for 1 MiB of "a"`);
      // The server's echo of it (compress: true) lies between these two arrivals.
      const downWire = (fragmentedText?.bytesWritten ?? 0) - (compressible?.bytesWritten ?? 0);
      assert.ok(downWire < COMPRESSED_BYTES_BOUND, `server sent ${downWire} wire bytes for 1 MiB of "a": not deflated`);

      assert.deepEqual(await connection.closed, { code: 1000, reason: 'python done', wasClean: true });
      // RFC 6455 §5.5.1: the reply typically echoes the code; echoing the reason is optional.
      const closed = step(lines, 'closed');
      assert.deepEqual([closed.sent_code, closed.code, closed.clean], [1000, 1000, true]);
    });

    await t.test('server sees 4000 and the reason when a python client closes; both ends clean', async () => {
      const lines = await runPythonClient(`${base}/echo/close-by-client`, 'close-4000');
      assert.deepEqual(await accepted('/echo/close-by-client').closed, { code: 4000, reason: 'client bye', wasClean: true });
      const closed = step(lines, 'closed');
      assert.equal(closed.sent_code, 4000);
      assert.equal(closed.code, 4000, 'the server echoes the close code (RFC 6455 §5.5.1)');
      assert.equal(closed.clean, true);
    });

    for (const [code, reason] of [
      [1000, 'server done'],
      [4000, 'server bye'],
    ] as const) {
      await t.test(`server closes with ${code} and a reason; python client sees both and both ends are clean`, async () => {
        const path = `/close-${code}/by-server`;
        const lines = await runPythonClient(`${base}${path}`, 'await-close');
        assert.deepEqual(step(lines, 'closed'), { step: 'closed', code, reason, sent_code: code, clean: true });
        const seen = await accepted(path).closed;
        assert.equal(seen.code, code, 'python echoes the close code; the server reports the code it received');
        assert.equal(seen.wasClean, true);
      });
    }
  } finally {
    await within(new Promise<void>((resolve) => server.close(() => resolve())), 'tidewire server close', 5_000);
  }
});

test('tidewire client against a python websockets server', { timeout: 45_000 }, async (t) => {
  if (!(await requirePython(t))) return;
  const { server, port } = await PythonServer.start();
  const base = `ws://127.0.0.1:${port}`;

  async function connect(path: string) {
    const client = new WebSocket(`${base}${path}`, ['chat.v2', 'chat.v1']);
    const inbox = tidewireMessages(client, `tidewire client inbox on ${path}`);
    const closed = tidewireClosed(client, `tidewire client close on ${path}`);
    closed.catch(() => {});
    await within(once(client, 'open'), `tidewire client open on ${path}`);
    return { client, inbox, closed };
  }

  try {
    await t.test('client negotiates the subprotocol python picks and permessage-deflate', async () => {
      const { client, closed } = await connect('/echo/handshake');
      assert.equal(client.protocol, 'chat.v1', 'server.py supports only chat.v1');
      assert.deepEqual(extensionNames(client.extensions), ['permessage-deflate']);
      const open = await server.event('/echo/handshake', 'open');
      assert.equal(open.subprotocol, 'chat.v1');
      assert.deepEqual(extensionNames(open.extensions ?? ''), ['permessage-deflate']);
      client.close(1000);
      await closed;
    });

    await t.test('client sends text, binary, 1 MiB random and 1 MiB compressible text; python receives and echoes each intact', async () => {
      const path = '/echo/matrix';
      const { client, inbox, closed } = await connect(path);
      const random = randomBytes(MIB);
      const compressible = 'a'.repeat(MIB);
      const cases: [string | Buffer, boolean][] = [
        [TEXT, false],
        [Buffer.from(Array.from({ length: 256 }, (_, i) => i)), true],
        [random, true],
        [compressible, false],
      ];
      for (const [data, isBinary] of cases) {
        client.send(data, { compress: true });
        const echo = await inbox.next();
        assert.equal(echo.isBinary, isBinary);
        assert.equal(echo.data.length, Buffer.byteLength(data));
        assert.ok(echo.data.equals(Buffer.from(data)), `echo of a ${echo.data.length}-byte message differs`);
      }
      const arrived = server.lines.filter((line) => line.path === path && line.event === 'message');
      assert.deepEqual(
        arrived.map((line) => [line.type, line.length, line.sha256]),
        cases.map(([data, isBinary]) => [isBinary ? 'binary' : 'text', Buffer.byteLength(data), sha256(data)]),
      );
      client.close(1000);
      await closed;
    });

    await t.test('client reassembles a text and a binary message python sent in fragments', async () => {
      const { client, inbox, closed } = await connect('/echo/fragments');
      client.send('cmd:fragments');
      const text = await inbox.next();
      assert.equal(text.isBinary, false);
      assert.equal(text.data.toString(), 'fragmented ✓');
      const binary = await inbox.next();
      assert.equal(binary.isBinary, true);
      assert.equal(binary.data.toString('hex'), '00010203feff');
      client.close(1000);
      await closed;
    });

    await t.test('client ping gets a python pong with its payload, and a python ping gets a client pong', async () => {
      const { client, inbox, closed } = await connect('/echo/ping');
      const gotPong = once(client, 'pong');
      client.ping(Buffer.from('tw-ping'));
      assert.deepEqual((await within(gotPong, 'tidewire client pong'))[0], Buffer.from('tw-ping'));

      const gotPing = once(client, 'ping');
      client.send('cmd:ping');
      assert.deepEqual((await within(gotPing, 'tidewire client ping'))[0], Buffer.from('py-ping'));
      assert.equal((await inbox.next()).data.toString(), 'pong-received', 'python got the pong');
      client.close(1000);
      await closed;
    });

    for (const [code, reason] of [
      [1000, 'normal bye'],
      [4000, 'client bye ✓'],
    ] as const) {
      await t.test(`client closes with ${code} and a reason; python sees both and both ends are clean`, async () => {
        const path = `/echo/close-by-client-${code}`;
        const { client, closed } = await connect(path);
        client.close(code, reason);
        const seen = await closed;
        assert.equal(seen.code, code, 'python echoes the close code; the client reports the code it received');
        assert.equal(seen.wasClean, true);
        const pyClosed = await server.event(path, 'close');
        assert.deepEqual([pyClosed.code, pyClosed.reason, pyClosed.clean], [code, reason, true]);
      });
    }

    for (const [code, reason] of [
      [1000, 'server done'],
      [4000, 'server bye'],
    ] as const) {
      await t.test(`python server closes with ${code} and a reason; client sees both and both ends are clean`, async () => {
        const path = `/close-${code}/by-server`;
        const { closed } = await connect(path);
        assert.deepEqual(await closed, { code, reason, wasClean: true });
        const pyClosed = await server.event(path, 'close');
        assert.equal(pyClosed.code, code, 'the client echoes the close code (RFC 6455 §5.5.1)');
        assert.equal(pyClosed.clean, true);
      });
    }
  } finally {
    await server.stop();
  }
});
