// WebSocketServer over real sockets: the three modes (standalone, sharing an http server, noServer
// + handleUpgrade), what 'connection' hands over, client tracking, the handshake policy
// (verifyClient, handleProtocols, allowedOrigins), shutdown with 1001, and broadcast.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { describe, test, type TestContext } from 'node:test';
import { WebSocket, WebSocketServer, type VerifyInfo } from '../../src/index.js';
import { closeCodeOf, closeOf, connectionsOf, messagesOf, nextEvent, within } from './support/events.js';
import { RawClient } from './support/raw-client.js';
import { newClient, onTeardown, openClient, startServer, stopServer, trackClose } from './support/servers.js';

/** An http server on a free port that answers normal requests itself; closed when the test ends. */
async function startHttpServer(t: TestContext): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`plain http: ${req.url}`);
  });
  await within(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)), 'http server listening');
  onTeardown(t, () => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { server, port: (server.address() as AddressInfo).port };
}

function httpGet(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return within(
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
    }),
    `GET ${path}`,
  );
}

/** A client whose handshake must fail: resolves with the order of its events and the close. */
async function failedClient(t: TestContext, url: string, protocols?: string[], options?: ConstructorParameters<typeof WebSocket>[2]) {
  const ws = newClient(t, url, protocols, options);
  const order: string[] = [];
  let error: Error | undefined;
  ws.addEventListener('error', () => order.push('error'));
  ws.on('error', (e: Error) => (error = e));
  ws.addEventListener('open', () => order.push('open'));
  const close = await closeOf(ws, 'client close after a refused handshake');
  order.push('close');
  return { ws, order, close, error };
}

describe('WebSocketServer modes', () => {
  test('standalone server on port 0 emits listening, reports its port and echoes', async (t) => {
    const { wss, port, url } = await startServer(t);
    assert.ok(port > 0);
    wss.on('connection', (ws: WebSocket) => ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary })));
    const client = await openClient(t, url);
    const inbox = messagesOf(client);
    client.send('ping?');
    const reply = await inbox.next();
    assert.equal(reply.data.toString(), 'ping?');
    assert.equal(reply.isBinary, false);
  });

  test('server connection event receives the WebSocket and the upgrade request', async (t) => {
    const { wss, port } = await startServer(t);
    const connections = connectionsOf(wss);
    await openClient(t, `ws://127.0.0.1:${port}/room/7?user=ann`, undefined, { headers: { 'X-Trace': 'abc' } });
    const { ws, req } = await connections.next();
    assert.ok(ws instanceof WebSocket);
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(req.url, '/room/7?user=ann');
    assert.equal(req.headers['x-trace'], 'abc');
    assert.equal(req.headers.upgrade?.toLowerCase(), 'websocket');
    assert.equal(ws.url, `ws://127.0.0.1:${port}/room/7?user=ann`);
  });

  test('server sharing an http server serves plain requests and two WebSocket paths side by side', async (t) => {
    const { server, port } = await startHttpServer(t);
    const chat = trackClose(new WebSocketServer({ server, path: '/chat' }));
    const feed = trackClose(new WebSocketServer({ server, path: '/feed' }));
    onTeardown(t, () => Promise.all([stopServer(chat), stopServer(feed)]));
    const chatConnections = connectionsOf(chat, 'chat connections');
    const feedConnections = connectionsOf(feed, 'feed connections');

    const page = await httpGet(port, '/index.html');
    assert.equal(page.status, 200);
    assert.equal(page.body, 'plain http: /index.html');

    await openClient(t, `ws://127.0.0.1:${port}/chat`);
    const onChat = await chatConnections.next();
    assert.equal(onChat.req.url, '/chat');
    await openClient(t, `ws://127.0.0.1:${port}/feed?x=1`);
    const onFeed = await feedConnections.next();
    assert.equal(onFeed.req.url, '/feed?x=1');
    assert.equal(chat.clients.size, 1);
    assert.equal(feed.clients.size, 1);
    assert.equal(chatConnections.size, 0);
    assert.equal(feedConnections.size, 0);

    const stillPlain = await httpGet(port, '/after');
    assert.equal(stillPlain.status, 200);
  });

  test('server sharing an http server alone answers 400 to an upgrade on another path', async (t) => {
    const { server, port } = await startHttpServer(t);
    const wss = trackClose(new WebSocketServer({ server, path: '/ws' }));
    onTeardown(t, () => stopServer(wss));
    const raw = await RawClient.connect(port, { path: '/other' });
    onTeardown(t, () => raw.destroy());
    assert.equal(raw.status, 400);
  });

  test('servers sharing an http server answer 400 once to an upgrade on a path none of them has', async (t) => {
    const { server, port } = await startHttpServer(t);
    const chat = trackClose(new WebSocketServer({ server, path: '/chat' }));
    const feed = trackClose(new WebSocketServer({ server, path: '/feed' }));
    onTeardown(t, () => Promise.all([stopServer(chat), stopServer(feed)]));
    const raw = await RawClient.connect(port, { path: '/nowhere' });
    onTeardown(t, () => raw.destroy());
    assert.equal(raw.status, 400);
    assert.match(raw.responseHead, /^HTTP\/1\.1 400 /);
    await within(new Promise<void>((resolve) => (raw.ended ? resolve() : raw.socket.once('close', () => resolve()))), 'the refused socket closes');

    const chatConnections = connectionsOf(chat, 'chat connections');
    await openClient(t, `ws://127.0.0.1:${port}/chat`);
    assert.equal((await chatConnections.next()).req.url, '/chat', 'the known paths still work');
  });

  test("servers sharing an http server leave an unknown path to the application's own upgrade listener", async (t) => {
    const { server, port } = await startHttpServer(t);
    const chat = trackClose(new WebSocketServer({ server, path: '/chat' }));
    onTeardown(t, () => stopServer(chat));
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
      if (req.url === '/custom') socket.end('HTTP/1.1 418 I am a teapot\r\nConnection: close\r\n\r\n');
    });
    const raw = await RawClient.connect(port, { path: '/custom' });
    onTeardown(t, () => raw.destroy());
    assert.equal(raw.status, 418, 'only the application answered');
  });

  test('server in noServer mode accepts what the application routes to handleUpgrade by path', async (t) => {
    const { server, port } = await startHttpServer(t);
    const left = trackClose(new WebSocketServer({ noServer: true }));
    const right = trackClose(new WebSocketServer({ noServer: true }));
    onTeardown(t, () => Promise.all([stopServer(left), stopServer(right)]));
    const leftConnections = connectionsOf(left, 'left connections');
    const rightConnections = connectionsOf(right, 'right connections');
    server.on('upgrade', (req, socket, head) => {
      const target = req.url === '/left' ? left : req.url === '/right' ? right : null;
      if (target === null) {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      target.handleUpgrade(req, socket, head, (ws, request) => target.emit('connection', ws, request));
    });

    const a = await openClient(t, `ws://127.0.0.1:${port}/left`);
    const b = await openClient(t, `ws://127.0.0.1:${port}/right`);
    const onLeft = await leftConnections.next();
    const onRight = await rightConnections.next();
    assert.equal(onLeft.req.url, '/left');
    assert.equal(onRight.req.url, '/right');
    assert.equal(left.clients.size, 1);
    assert.equal(right.clients.size, 1);

    // Each server-side connection talks to its own client.
    const aInbox = messagesOf(a);
    const bInbox = messagesOf(b);
    onLeft.ws.send('from left');
    onRight.ws.send('from right');
    assert.equal((await aInbox.next()).data.toString(), 'from left');
    assert.equal((await bInbox.next()).data.toString(), 'from right');

    const lost = await failedClient(t, `ws://127.0.0.1:${port}/nowhere`);
    assert.deepEqual(lost.order, ['error', 'close']);
    assert.equal(lost.close.code, 1006);
  });

  test('server handleUpgrade hands the connection to the callback without emitting connection itself', async (t) => {
    const { server, port } = await startHttpServer(t);
    const wss = trackClose(new WebSocketServer({ noServer: true }));
    onTeardown(t, () => stopServer(wss));
    let emitted = 0;
    wss.on('connection', () => emitted++);
    const handed = new Promise<{ ws: WebSocket; url: string | undefined }>((resolve) => {
      server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws, request) => resolve({ ws, url: request.url })));
    });
    await openClient(t, `ws://127.0.0.1:${port}/direct`);
    const { ws, url } = await within(handed, 'handleUpgrade callback');
    assert.equal(url, '/direct');
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(emitted, 0);
    assert.throws(() => wss.address(), /noServer/);
  });

  test('server send inside the connection handler reaches the client right after open', async (t) => {
    const { wss, url } = await startServer(t);
    wss.on('connection', (ws: WebSocket) => {
      ws.send('welcome');
      ws.send(Buffer.from([1, 2]));
    });
    const client = newClient(t, url);
    const order: string[] = [];
    client.onopen = () => order.push('open');
    const inbox = messagesOf(client);
    const [first, second] = await inbox.take(2);
    assert.deepEqual(order, ['open']);
    assert.equal(first!.data.toString(), 'welcome');
    assert.deepEqual(second!.data, Buffer.from([1, 2]));
  });

  test('server close inside the connection handler closes the client cleanly and is tracked no more', async (t) => {
    const { wss, url } = await startServer(t);
    const serverSideClose = new Promise<number>((resolve) => {
      wss.on('connection', (ws: WebSocket) => {
        ws.close(4003, 'not today');
        ws.on('close', (code: number) => resolve(code));
      });
    });
    const client = newClient(t, url);
    const close = await closeOf(client, 'client close');
    assert.deepEqual(close, { code: 4003, reason: 'not today', wasClean: true });
    assert.equal(await within(serverSideClose, 'server side close'), 4003);
    assert.equal(wss.clients.size, 0);
  });

  test('server constructor refuses zero or several of port, server and noServer', () => {
    assert.throws(() => new WebSocketServer({}), TypeError);
    assert.throws(() => new WebSocketServer({ port: 0, noServer: true }), TypeError);
  });
});

describe('WebSocketServer client tracking', () => {
  test('server clients holds each open connection and forgets it once it closed', async (t) => {
    const { wss, url } = await startServer(t);
    const connections = connectionsOf(wss);
    const a = await openClient(t, url);
    await openClient(t, url);
    const first = await connections.next();
    const second = await connections.next();
    assert.equal(wss.clients.size, 2);
    assert.ok(wss.clients.has(first.ws));
    assert.ok(wss.clients.has(second.ws));

    const serverSideClosed = closeCodeOf(first.ws, 'server side of the first client');
    a.close(1000, 'bye');
    assert.deepEqual(await serverSideClosed, { code: 1000, reason: 'bye' });
    assert.equal(wss.clients.size, 1);
    assert.ok(!wss.clients.has(first.ws));
    assert.ok(wss.clients.has(second.ws));

    const terminated = closeCodeOf(second.ws, 'server side of the second client');
    second.ws.terminate();
    assert.equal((await terminated).code, 1006);
    assert.equal(wss.clients.size, 0);
  });

  test('server with clientTracking false keeps clients empty while connections are open', async (t) => {
    const { wss, url } = await startServer(t, { clientTracking: false });
    const connections = connectionsOf(wss);
    const client = await openClient(t, url);
    const { ws } = await connections.next();
    assert.equal(wss.clients.size, 0);
    // The untracked connection still works, and wss.close() still closes it.
    const inbox = messagesOf(client);
    ws.send('untracked');
    assert.equal((await inbox.next()).data.toString(), 'untracked');
    const closed = closeOf(client);
    await within(new Promise<void>((resolve) => wss.close(() => resolve())), 'wss.close callback');
    assert.equal((await closed).code, 1001);
  });
});

describe('WebSocketServer handshake policy', () => {
  test('server verifyClient returning true synchronously accepts and sees origin, secure and req', async (t) => {
    const seen: VerifyInfo[] = [];
    const { port } = await startServer(t, {
      verifyClient: (info) => {
        seen.push(info);
        return true;
      },
    });
    await openClient(t, `ws://127.0.0.1:${port}/v?token=1`, undefined, { origin: 'https://app.example' });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.origin, 'https://app.example');
    assert.equal(seen[0]!.secure, false);
    assert.equal(seen[0]!.req.url, '/v?token=1');
  });

  test('server verifyClient resolving true asynchronously accepts', async (t) => {
    const { url } = await startServer(t, {
      verifyClient: () => new Promise((resolve) => setImmediate(() => resolve(true))),
    });
    const client = await openClient(t, url);
    assert.equal(client.readyState, WebSocket.OPEN);
  });

  test('server verifyClient returning false answers 401 and the client reports error then close 1006', async (t) => {
    const { wss, port, url } = await startServer(t, { verifyClient: () => false });
    let connected = 0;
    wss.on('connection', () => connected++);
    const raw = await RawClient.connect(port);
    onTeardown(t, () => raw.destroy());
    assert.equal(raw.status, 401);

    const refused = await failedClient(t, url);
    assert.deepEqual(refused.order, ['error', 'close']);
    assert.equal(refused.close.code, 1006);
    assert.equal(refused.close.wasClean, false);
    assert.match(String(refused.error?.message), /401/);
    assert.equal(connected, 0);
    assert.equal(wss.clients.size, 0);
  });

  test('server verifyClient resolving a custom status answers with that status, message and headers', async (t) => {
    const { port } = await startServer(t, {
      verifyClient: async ({ req }) =>
        req.headers.authorization === 'Bearer good' ? true : { status: 403, message: 'No entry', headers: { 'X-Reason': 'token' } },
    });
    const raw = await RawClient.connect(port);
    onTeardown(t, () => raw.destroy());
    assert.equal(raw.status, 403);
    assert.equal(raw.header('x-reason'), 'token');
    assert.equal(await raw.readBody(), 'No entry');

    const allowed = await openClient(t, `ws://127.0.0.1:${port}/`, undefined, { headers: { Authorization: 'Bearer good' } });
    assert.equal(allowed.readyState, WebSocket.OPEN);
  });

  test('server handleProtocols chooses the subprotocol the client gets', async (t) => {
    const offeredSets: string[][] = [];
    const { wss, url } = await startServer(t, {
      handleProtocols: (protocols) => {
        offeredSets.push([...protocols]);
        return protocols.has('chat.v2') ? 'chat.v2' : false;
      },
    });
    const connections = connectionsOf(wss);
    const client = await openClient(t, url, ['chat.v1', 'chat.v2']);
    assert.deepEqual(offeredSets[0], ['chat.v1', 'chat.v2']);
    assert.equal(client.protocol, 'chat.v2');
    assert.equal((await connections.next()).ws.protocol, 'chat.v2');

    const declined = await openClient(t, url, ['other']);
    assert.equal(declined.protocol, '');
  });

  test('server without handleProtocols picks the first subprotocol offered', async (t) => {
    const { url } = await startServer(t);
    const client = await openClient(t, url, ['first', 'second']);
    assert.equal(client.protocol, 'first');
  });

  test('server allowedOrigins accepts listed origins and requests without Origin, 403 for others', async (t) => {
    const { port, url } = await startServer(t, { allowedOrigins: ['https://good.example', 'http://localhost:8080'] });
    const listed = await openClient(t, url, undefined, { origin: 'https://good.example' });
    assert.equal(listed.readyState, WebSocket.OPEN);
    const noOrigin = await openClient(t, url);
    assert.equal(noOrigin.readyState, WebSocket.OPEN);

    const raw = await RawClient.connect(port, { headers: { Origin: 'https://evil.example' } });
    onTeardown(t, () => raw.destroy());
    assert.equal(raw.status, 403);
    const refused = await failedClient(t, url, undefined, { origin: 'http://localhost:8081' });
    assert.deepEqual(refused.order, ['error', 'close']);
    assert.equal(refused.close.code, 1006);
  });

  test('standalone server answers a plain GET with 426 Upgrade Required', async (t) => {
    const { port } = await startServer(t);
    const response = await httpGet(port, '/');
    assert.equal(response.status, 426);
    assert.equal(response.headers.upgrade, 'websocket');
  });
});

describe('WebSocketServer close and broadcast', () => {
  test('server close sends 1001 to every client, stops accepting and calls back once all are closed', async (t) => {
    const { wss, url } = await startServer(t);
    const connections = connectionsOf(wss);
    const clients = [await openClient(t, url), await openClient(t, url), await openClient(t, url)];
    const serverSides = await connections.take(3);
    const clientCloses = clients.map((c, i) => closeOf(c, `client ${i} close`));
    const serverSideClosed = new Set<WebSocket>();
    for (const { ws } of serverSides) ws.once('close', () => serverSideClosed.add(ws));

    let callbacks = 0;
    const done = within(
      new Promise<void>((resolve) =>
        wss.close(() => {
          callbacks++;
          // Every connection is closed by the time the callback runs.
          assert.equal(serverSideClosed.size, 3);
          assert.ok(serverSides.every(({ ws }) => ws.readyState === WebSocket.CLOSED));
          resolve();
        }),
      ),
      'wss.close callback',
    );
    for (const close of await Promise.all(clientCloses)) {
      assert.equal(close.code, 1001);
      assert.equal(close.wasClean, true);
    }
    await done;
    assert.equal(callbacks, 1);
    assert.equal(wss.clients.size, 0);

    const late = await failedClient(t, url);
    assert.deepEqual(late.order, ['error', 'close']);
    assert.equal(late.close.code, 1006);
  });

  test('server close during an opening handshake refuses it and still calls back', async (t) => {
    let verifying!: () => void;
    const verifyStarted = new Promise<void>((resolve) => (verifying = resolve));
    let release!: (verdict: boolean) => void;
    const { wss, url } = await startServer(t, {
      verifyClient: () => {
        verifying();
        return new Promise<boolean>((resolve) => (release = resolve));
      },
    });
    let connected = 0;
    wss.on('connection', () => connected++);
    const client = newClient(t, url);
    client.on('error', () => {});
    const clientClosed = closeOf(client, 'client close');
    await within(verifyStarted, 'verifyClient called');
    const closed = within(new Promise<void>((resolve) => wss.close(() => resolve())), 'wss.close callback with a handshake in flight');
    release(true);
    await closed;
    assert.equal(connected, 0, 'no connection is accepted once close() was called');
    assert.equal((await clientClosed).code, 1006);
  });

  test('server close with no clients calls back', async (t) => {
    const { wss } = await startServer(t);
    await within(new Promise<void>((resolve) => wss.close(() => resolve())), 'close callback');
  });

  test('server close called again after the server closed still calls back', async (t) => {
    const { wss } = await startServer(t);
    await within(new Promise<void>((resolve) => wss.close(() => resolve())), 'first close callback');
    await within(new Promise<void>((resolve) => wss.close(() => resolve())), 'second close callback');
  });

  test('server close called twice while closing calls both callbacks once', async (t) => {
    const { wss, url } = await startServer(t);
    await openClient(t, url);
    let first = 0;
    let second = 0;
    const both = Promise.all([
      new Promise<void>((resolve) => wss.close(() => (first++, resolve()))),
      new Promise<void>((resolve) => wss.close(() => (second++, resolve()))),
    ]);
    await within(both, 'both close callbacks');
    assert.deepEqual([first, second], [1, 1]);
  });

  test('server in noServer mode refuses upgrades with 503 once closed', async (t) => {
    const { server, port } = await startHttpServer(t);
    const wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, () => {}));
    await within(new Promise<void>((resolve) => wss.close(() => resolve())), 'wss.close callback');
    const raw = await RawClient.connect(port);
    onTeardown(t, () => raw.destroy());
    assert.equal(raw.status, 503);
  });

  test('server broadcast reaches every open client exactly once, text and binary', async (t) => {
    const { wss, url } = await startServer(t);
    const connections = connectionsOf(wss);
    const clients = [await openClient(t, url), await openClient(t, url), await openClient(t, url)];
    await connections.take(3);
    const inboxes = clients.map((c, i) => messagesOf(c, `client ${i} inbox`));

    const binary = Buffer.from([0, 1, 2, 253, 254, 255]);
    assert.equal(wss.broadcast('héllo everyone'), 3);
    assert.equal(wss.broadcast(binary), 3);
    assert.equal(wss.broadcast('end'), 3);
    for (const inbox of inboxes) {
      const [text, bin, end] = await inbox.take(3);
      assert.deepEqual({ text: text!.data.toString(), isBinary: text!.isBinary }, { text: 'héllo everyone', isBinary: false });
      assert.deepEqual({ data: bin!.data, isBinary: bin!.isBinary }, { data: binary, isBinary: true });
      assert.equal(end!.data.toString(), 'end');
      assert.equal(inbox.size, 0);
    }
  });

  test('server broadcast skips a client that closed and still reaches the others', async (t) => {
    const { wss, url } = await startServer(t);
    const connections = connectionsOf(wss);
    const leaving = await openClient(t, url);
    const staying = await openClient(t, url);
    const [leavingSide] = await connections.take(2);
    const gone = closeCodeOf(leavingSide!.ws, 'server side of the leaving client');
    leaving.close();
    await gone;
    const inbox = messagesOf(staying);
    assert.equal(wss.broadcast('only you', { binary: true }), 1);
    const message = await inbox.next();
    assert.equal(message.data.toString(), 'only you');
    assert.equal(message.isBinary, true);
  });
});

describe('WebSocketServer seed style', () => {
  test('server built with new WebSocket.Server({ port }) serves a client whose readyState becomes WebSocket.OPEN', async (t) => {
    assert.equal(WebSocketServer.prototype, WebSocket.Server.prototype);
    const wss = trackClose(new WebSocket.Server({ port: 0 }));
    onTeardown(t, () => stopServer(wss));
    await nextEvent(wss, 'listening');
    const port = (wss.address() as AddressInfo).port;
    wss.on('connection', (ws: WebSocket) => {
      ws.on('message', (message: Buffer) => {
        for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(`echo: ${message.toString()}`);
      });
    });
    const client = await openClient(t, `ws://localhost:${port}`);
    assert.equal(client.readyState, WebSocket.OPEN);
    const reply = new Promise<string>((resolve) => (client.onmessage = (event: MessageEvent) => resolve(String(event.data))));
    client.send('hi');
    assert.equal(await within(reply, 'echo'), 'echo: hi');
  });
});
