// RFC 6455 §4.2 the server's opening handshake: what it accepts, what it refuses and how (a 4xx
// with a clear body, then TCP closed), its limits on size and time, subprotocols, Origin and verifyClient.

import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { WebSocketServerOptions } from '../../src/index.js';
import { startEchoServer, type EchoServerTarget } from '../helpers/echo-endpoints.js';
import {
  HttpResponse,
  Opcode,
  acceptKeyFor,
  connectRaw,
  encodeFrame,
  openTcp,
  openWebSocket,
  rawExchange,
  withBystander,
  type ConnectOptions,
} from '../helpers/raw-peer.js';

/** An echo server with an 'error' listener: a server error these cases provoke must not throw. */
async function startHandshakeServer(options: Partial<WebSocketServerOptions> = {}): Promise<EchoServerTarget> {
  const server = await startEchoServer(options);
  server.wss.on('error', () => {});
  return server;
}

/** The request must be refused with one of `statuses`, a non-empty body, and TCP closed after it. */
async function expectRejected(port: number, options: ConnectOptions, statuses: number[]): Promise<HttpResponse> {
  const peer = await connectRaw(port, options);
  const response = peer.response;
  assert.ok(statuses.includes(response.status), `expected ${statuses.join(' or ')}, got ${response.startLine} (${response.body.toString()})`);
  assert.ok(response.body.length > 0, 'the refusal says why in its body');
  await peer.reader.waitForEnd(2000);
  return response;
}

describe('server handshake', { concurrency: true }, () => {
  let server: EchoServerTarget;
  let small: EchoServerTarget;
  before(async () => {
    server = await startHandshakeServer();
    small = await startHandshakeServer({ limits: { handshakeTimeoutMs: 300, maxHandshakeHeaderBytes: 4096, maxHandshakeHeaderCount: 50 } });
  });
  after(async () => {
    await server.close();
    await small.close();
  });

  it('server answers 101 with the Sec-WebSocket-Accept of the RFC 6455 §1.3 sample key', async () => {
    const peer = await openWebSocket(server.port, { key: 'dGhlIHNhbXBsZSBub25jZQ==' });
    assert.equal(peer.response.get('sec-websocket-accept'), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    assert.equal(peer.response.httpVersion, 'HTTP/1.1');
    assert.equal(peer.response.get('sec-websocket-protocol'), undefined);
    assert.equal(peer.response.get('sec-websocket-extensions'), undefined);
    await peer.expectEcho('hello');
    await peer.closeHandshake();
  });

  it('server accepts header names and values in any case and a Connection header with several tokens', async () => {
    const peer = await openWebSocket(server.port, {
      headers: { Upgrade: null, Connection: null, upgrade: 'WebSocket', connection: 'keep-alive, Upgrade', 'sec-websocket-version': '13' },
    });
    await peer.expectEcho('hello');
    await peer.closeHandshake();
  });

  it('server accepts a request written byte by byte', async () => {
    const peer = await openWebSocket(server.port, { requestSplit: { bytewise: true } });
    await peer.expectEcho('hello');
    await peer.closeHandshake();
  });

  it('server processes frames sent in the same TCP write as the request', async () => {
    const frames = Buffer.concat([
      encodeFrame({ opcode: Opcode.TEXT, payload: 'early', mask: true }),
      encodeFrame({ opcode: Opcode.PING, payload: 'early ping', mask: true }),
    ]);
    const peer = await openWebSocket(server.port, { extraRequestBytes: frames });
    assert.equal((await peer.nextMessage()).payload.toString(), 'early');
    const pong = await peer.nextFrame();
    assert.equal(pong.opcode, Opcode.PONG);
    assert.equal(pong.payload.toString(), 'early ping');
    await peer.closeHandshake();
  });

  it('server ignores an extension it does not know and permessage-deflate when it is off', async () => {
    const peer = await openWebSocket(server.port, { extensions: 'x-unknown; a=1, permessage-deflate; client_max_window_bits' });
    assert.equal(peer.response.get('sec-websocket-extensions'), undefined);
    await peer.expectEcho('hello');
    await peer.closeHandshake();
  });

  it('server refuses a request without Sec-WebSocket-Key with 400', async () => {
    await expectRejected(server.port, { headers: { 'Sec-WebSocket-Key': null } }, [400]);
  });
  for (const key of ['abc', 'AAAAAAAAAAAAAAAAAAAA', 'AAAAAAAAAAAAAAAAAAAAAAAA', 'not base64 at all!!!!!==', 'dGhlIHNhbXBsZSBub25jZQ']) {
    it(`server refuses a malformed Sec-WebSocket-Key "${key}" with 400`, async () => {
      await expectRejected(server.port, { key }, [400]);
    });
  }
  it('server refuses two Sec-WebSocket-Key headers with 400', async () => {
    await expectRejected(server.port, { headers: { 'Sec-WebSocket-Key': ['dGhlIHNhbXBsZSBub25jZQ==', 'AAAAAAAAAAAAAAAAAAAAAA=='] } }, [400]);
  });
  it('server refuses version 8 with 426 and Sec-WebSocket-Version: 13', async () => {
    const response = await expectRejected(server.port, { headers: { 'Sec-WebSocket-Version': '8' } }, [426]);
    assert.equal(response.get('sec-websocket-version'), '13');
  });
  it('server refuses a request without Sec-WebSocket-Version with 400 or 426', async () => {
    await expectRejected(server.port, { headers: { 'Sec-WebSocket-Version': null } }, [400, 426]);
  });
  it('server refuses POST with 400 or 405', async () => {
    await expectRejected(server.port, { method: 'POST', headers: { 'Content-Length': '0' } }, [400, 405]);
  });
  it('server refuses HTTP/1.0 with a 4xx', async () => {
    await expectRejected(server.port, { httpVersion: 'HTTP/1.0' }, [400, 426, 505]);
  });
  it('server refuses a request without Upgrade with 400 or 426', async () => {
    await expectRejected(server.port, { headers: { Upgrade: null } }, [400, 426]);
  });
  it('server refuses a request without Connection: Upgrade with 400 or 426', async () => {
    await expectRejected(server.port, { headers: { Connection: 'keep-alive' } }, [400, 426]);
  });
  it('server refuses Upgrade: h2c with 400', async () => {
    await expectRejected(server.port, { headers: { Upgrade: 'h2c' } }, [400]);
  });

  // Node's HTTP parser reads "GET /" as an HTTP/0.9 request, a plain request that gets the 426 of non-upgrade requests.
  const garbage: [string, Buffer, number[]][] = [
    ['random binary', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]), [400]],
    ['a line that is not HTTP', Buffer.from('HELLO WORLD\r\n\r\n'), [400]],
    ['a WebSocket frame instead of a request', encodeFrame({ opcode: Opcode.TEXT, payload: 'hello', mask: true }), [400]],
    ['a request line with no version', Buffer.from('GET /\r\nHost: x\r\n\r\n'), [400, 426]],
  ];
  for (const [label, bytes, statuses] of garbage) {
    it(`server closes the connection on ${label} (${statuses.join(' or ')} where it answers)`, async () => {
      await withBystander(server.port, async () => {
        const result = await rawExchange(server.port, bytes, 2000);
        assert.ok(result.closed, 'the connection is closed');
        if (result.raw.length > 0) assert.ok(statuses.includes(result.response?.status ?? 0), `answered ${result.raw.subarray(0, 60).toString()}`);
      });
    });
  }

  it('server refuses a request head larger than maxHandshakeHeaderBytes with 431 or 400 and closes', async () => {
    await withBystander(small.port, async () => {
      const result = await rawExchange(
        small.port,
        `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Big: ${'b'.repeat(5000)}\r\n\r\n`,
        2000,
      );
      assert.ok(result.closed);
      assert.ok([400, 431].includes(result.response?.status ?? 0), `answered ${result.raw.subarray(0, 60).toString()}`);
    });
  });
  it('server refuses a request with more header lines than maxHandshakeHeaderCount with 431 or 400 and closes', async () => {
    await withBystander(small.port, async () => {
      const extra = Array.from({ length: 80 }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
      const result = await rawExchange(
        small.port,
        `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
        2000,
      );
      assert.ok([400, 431].includes(result.response?.status ?? 0), `answered ${result.raw.subarray(0, 60).toString() || 'nothing'}`);
      assert.ok(result.closed);
    });
  });

  it('server closes a connection that sends nothing after handshakeTimeoutMs', async () => {
    const reader = await openTcp(small.port);
    const started = Date.now();
    await reader.waitForEnd(2000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 1500, `closed after ${elapsed} ms`);
  });
  it('server cuts a handshake trickled one byte every 20 ms after handshakeTimeoutMs', async () => {
    await withBystander(small.port, async () => {
      const reader = await openTcp(small.port);
      const request = Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      let sent = 0;
      const trickle = setInterval(() => {
        if (sent < request.length && !reader.ended) reader.socket.write(request.subarray(sent, ++sent));
      }, 20);
      const started = Date.now();
      try {
        await reader.waitForEnd(2000);
      } finally {
        clearInterval(trickle);
      }
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 1500, `closed after ${elapsed} ms`);
      assert.ok(sent < request.length, 'cut before the request was complete');
      assert.ok(!reader.peek(reader.length).toString().startsWith('HTTP/1.1 101'));
    });
  });
  it('server cuts a connection whose request line came but whose headers never end after handshakeTimeoutMs', async () => {
    const reader = await openTcp(small.port);
    reader.socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const started = Date.now();
    await reader.waitForEnd(2000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 1500, `closed after ${elapsed} ms`);
  });
});

describe('server subprotocols, Origin and verifyClient', { concurrency: true }, () => {
  let plain: EchoServerTarget;
  let chooser: EchoServerTarget;
  let refuser: EchoServerTarget;
  let origins: EchoServerTarget;
  let seenProtocols: Set<string> | undefined;
  before(async () => {
    plain = await startHandshakeServer();
    chooser = await startHandshakeServer({
      handleProtocols: (protocols: Set<string>) => {
        seenProtocols = protocols;
        return protocols.has('chat.v3') ? 'chat.v3' : false;
      },
    });
    refuser = await startHandshakeServer({ handleProtocols: () => false });
    origins = await startHandshakeServer({ allowedOrigins: ['https://good.example', 'http://localhost:8080'] });
  });
  after(async () => {
    for (const server of [plain, chooser, refuser, origins]) await server.close();
  });

  it('server selects the first offered subprotocol by default', async () => {
    const peer = await openWebSocket(plain.port, { protocols: ['chat.v1', 'chat.v2'] });
    assert.equal(peer.response.get('sec-websocket-protocol'), 'chat.v1');
    await peer.closeHandshake();
  });
  it('server passes every protocol offered on several header lines to handleProtocols and answers its choice', async () => {
    const peer = await openWebSocket(chooser.port, { headers: { 'Sec-WebSocket-Protocol': ['chat.v1, chat.v2', 'chat.v3'] } });
    assert.equal(peer.response.get('sec-websocket-protocol'), 'chat.v3');
    assert.deepEqual([...(seenProtocols ?? [])].sort(), ['chat.v1', 'chat.v2', 'chat.v3']);
    await peer.expectEcho('hello');
    await peer.closeHandshake();
  });
  it('server answers without Sec-WebSocket-Protocol when handleProtocols returns false', async () => {
    const peer = await openWebSocket(refuser.port, { protocols: ['chat.v1'] });
    assert.equal(peer.response.get('sec-websocket-protocol'), undefined);
    await peer.closeHandshake();
  });
  for (const value of ['chat.v1, chat.v1', 'chat v1', 'chat/v1', '"chat.v1"']) {
    it(`server refuses a malformed Sec-WebSocket-Protocol "${value}" with 400`, async () => {
      await expectRejected(plain.port, { headers: { 'Sec-WebSocket-Protocol': value } }, [400]);
    });
  }

  it('server refuses an Origin outside allowedOrigins with 403', async () => {
    await expectRejected(origins.port, { headers: { Origin: 'https://evil.example' } }, [403]);
  });
  it('server refuses an Origin that only shares a prefix with an allowed one with 403', async () => {
    await expectRejected(origins.port, { headers: { Origin: 'https://good.example.evil.example' } }, [403]);
  });
  it('server accepts an allowed Origin and a request without Origin', async () => {
    for (const headers of [{ Origin: 'https://good.example' }, { Origin: 'http://localhost:8080' }, {}] as Record<string, string>[]) {
      const peer = await openWebSocket(origins.port, { headers });
      await peer.expectEcho('hello');
      await peer.closeHandshake();
    }
  });

  it('server refuses with 401 when verifyClient returns false, and gives it origin and request', async () => {
    let info: { origin: string | undefined; secure: boolean; req: IncomingMessage } | undefined;
    const server = await startHandshakeServer({
      verifyClient: (given) => {
        info = given;
        return false;
      },
    });
    try {
      await expectRejected(server.port, { path: '/room?token=x', headers: { Origin: 'https://app.example' } }, [401]);
      assert.equal(info?.origin, 'https://app.example');
      assert.equal(info?.secure, false);
      assert.equal(info?.req.url, '/room?token=x');
    } finally {
      await server.close();
    }
  });
  it('server refuses with the status, message and headers verifyClient returns', async () => {
    const server = await startHandshakeServer({ verifyClient: () => ({ status: 418, message: 'I am a teapot', headers: { 'X-Reason': 'tea' } }) });
    try {
      const response = await expectRejected(server.port, {}, [418]);
      assert.equal(response.get('x-reason'), 'tea');
      assert.match(response.body.toString(), /teapot/);
    } finally {
      await server.close();
    }
  });
  it('server waits for an async verifyClient: true accepts, false refuses with 401', async () => {
    const server = await startHandshakeServer({
      verifyClient: async ({ req }) => {
        await new Promise((resolve) => setImmediate(resolve));
        return req.url === '/yes';
      },
    });
    try {
      const peer = await openWebSocket(server.port, { path: '/yes' });
      await peer.expectEcho('hello');
      await peer.closeHandshake();
      await expectRejected(server.port, { path: '/no' }, [401]);
    } finally {
      await server.close();
    }
  });
  it('server refuses a request for another path with 400 when given a path', async () => {
    const server = await startHandshakeServer({ path: '/chat' });
    try {
      await expectRejected(server.port, { path: '/other' }, [400]);
      const peer = await openWebSocket(server.port, { path: '/chat?room=1' });
      await peer.expectEcho('hello');
      await peer.closeHandshake();
    } finally {
      await server.close();
    }
  });
  it('server answers with the correct accept key for many fresh keys', async () => {
    for (let i = 0; i < 20; i++) {
      const peer = await connectRaw(plain.port);
      assert.equal(peer.response.status, 101);
      assert.equal(peer.response.get('sec-websocket-accept'), acceptKeyFor(peer.key));
      peer.destroy();
    }
  });
});
