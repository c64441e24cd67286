// RFC 6455 §4.1 the client's opening handshake, against a raw server that answers with exactly the
// bytes each case needs: the request must be valid, and any wrong answer must fail the connection
// (WHATWG: an error event, then a close event with 1006, readyState CLOSED, never an open event).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebSocket, type WebSocketOptions } from '../../src/index.js';
import {
  Opcode,
  acceptKeyFor,
  clientRequestProblems,
  encodeFrame,
  parseExtensions,
  startRawServer,
  withTimeout,
  type AcceptOptions,
  type RawServer,
  type RawServerConnection,
} from '../helpers/raw-peer.js';

interface Watched {
  ws: WebSocket;
  createdAt: number;
  events: string[];
  closed: Promise<{ code: number; reason: string; wasClean: boolean }>;
}

function watch(ws: WebSocket, createdAt = Date.now()): Watched {
  const events: string[] = [];
  ws.addEventListener('open', () => events.push('open'));
  ws.addEventListener('error', () => events.push('error'));
  const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
    ws.addEventListener('close', (event) => {
      events.push('close');
      const close = event as CloseEvent;
      resolve({ code: close.code, reason: close.reason, wasClean: close.wasClean });
    });
  });
  ws.on('error', () => {}); // the ws-style error event must not throw
  return { ws, createdAt, events, closed };
}

/** Runs `body` with a fresh raw server and a client connecting to it. */
async function withClient(
  body: (client: Watched, connection: RawServerConnection, server: RawServer) => Promise<void>,
  options: { protocols?: string | string[]; client?: WebSocketOptions; path?: string } = {},
): Promise<void> {
  const server = await startRawServer();
  try {
    const client = watch(new WebSocket(`${server.url.replace(/\/$/, '')}${options.path ?? '/'}`, options.protocols, options.client ?? {}));
    const connection = await server.nextConnection();
    await connection.readRequest();
    await body(client, connection, server);
  } finally {
    await server.close();
  }
}

/** The client must fail: error, then close 1006 (not clean), readyState CLOSED, never open. */
async function expectClientFailure(client: Watched): Promise<void> {
  const close = await withTimeout(client.closed, 3000, 'the close event');
  assert.equal(close.code, 1006);
  assert.equal(close.wasClean, false);
  assert.deepEqual(client.events, ['error', 'close']);
  assert.equal(client.ws.readyState, WebSocket.CLOSED);
}

async function expectOpen(client: Watched): Promise<void> {
  if (client.ws.readyState !== WebSocket.OPEN) {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        client.ws.addEventListener('open', () => resolve());
        client.ws.addEventListener('close', () => reject(new Error(`closed instead of opening: ${client.events.join(', ')}`)));
      }),
      3000,
      'the open event',
    );
  }
}

describe('client handshake', { concurrency: true }, () => {
  it('client sends a valid opening handshake request with a fresh key, the path and query, and Host with the port', async () => {
    const server = await startRawServer();
    try {
      const keys: string[] = [];
      for (let i = 0; i < 3; i++) {
        const ws = watch(new WebSocket(`${server.url}room/1?x=y&z=%20`));
        const connection = await server.nextConnection();
        const request = await connection.readRequest();
        assert.deepEqual(clientRequestProblems(request), []);
        assert.equal(request.target, '/room/1?x=y&z=%20');
        assert.equal(request.get('host'), `127.0.0.1:${server.port}`);
        keys.push(request.get('sec-websocket-key')!);
        connection.socket.destroy();
        await ws.closed;
      }
      assert.equal(new Set(keys).size, 3, 'every connection gets a fresh Sec-WebSocket-Key');
    } finally {
      await server.close();
    }
  });

  it('client offers its subprotocols, Origin and custom headers, and permessage-deflate by default', async () => {
    await withClient(
      async (client, connection) => {
        const request = connection.request!;
        assert.equal(request.get('sec-websocket-protocol')?.replace(/\s/g, ''), 'chat.v1,chat.v2');
        assert.equal(request.get('origin'), 'https://app.example');
        assert.equal(request.get('x-custom'), 'yes');
        const offers = parseExtensions(request.get('sec-websocket-extensions'));
        assert.equal(offers[0]?.name, 'permessage-deflate', `offered: ${request.get('sec-websocket-extensions')}`);
        connection.socket.destroy();
        await client.closed;
      },
      { protocols: ['chat.v1', 'chat.v2'], client: { origin: 'https://app.example', headers: { 'X-Custom': 'yes' } } },
    );
  });

  it('client does not offer permessage-deflate when it is turned off', async () => {
    await withClient(
      async (client, connection) => {
        assert.equal(connection.request!.get('sec-websocket-extensions'), undefined);
        connection.socket.destroy();
        await client.closed;
      },
      { client: { perMessageDeflate: false } },
    );
  });

  it('client opens on a correct 101 and reports the chosen subprotocol', async () => {
    await withClient(
      async (client, connection) => {
        const peer = await connection.accept({ protocol: 'chat.v2' });
        await expectOpen(client);
        assert.equal(client.ws.protocol, 'chat.v2');
        assert.equal(client.ws.extensions, '');
        assert.equal(client.ws.readyState, WebSocket.OPEN);
        client.ws.close(1000);
        await peer.expectClose(1000);
        await peer.finishClosingHandshake(1000);
        assert.equal((await client.closed).wasClean, true);
      },
      { protocols: ['chat.v1', 'chat.v2'] },
    );
  });

  it('client delivers a frame sent in the same TCP write as the 101', async () => {
    await withClient(async (client, connection) => {
      const received = new Promise<string>((resolve) => client.ws.on('message', (data: Buffer) => resolve(data.toString())));
      const peer = await connection.accept({ extraBytes: encodeFrame({ opcode: Opcode.TEXT, payload: 'early' }) });
      assert.equal(await withTimeout(received, 3000, 'the message'), 'early');
      await peer.closeHandshake(1000);
    });
  });

  it('client accepts a 101 whose header names and tokens use other cases', async () => {
    await withClient(async (client, connection) => {
      const key = connection.request!.get('sec-websocket-key')!;
      await connection.writeRaw(`HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nconnection: upgrade\r\nsec-websocket-accept: ${acceptKeyFor(key)}\r\n\r\n`);
      await expectOpen(client);
      client.ws.terminate();
    });
  });

  const badAnswers: [string, AcceptOptions | ((key: string) => string)][] = [
    ['a wrong Sec-WebSocket-Accept', { acceptValue: acceptKeyFor('AAAAAAAAAAAAAAAAAAAAAA==') }],
    ['no Sec-WebSocket-Accept', { headers: { 'Sec-WebSocket-Accept': null } }],
    ['no Upgrade header', { headers: { Upgrade: null } }],
    ['Upgrade: h2c', { headers: { Upgrade: 'h2c' } }],
    ['no Connection header', { headers: { Connection: null } }],
    ['Connection: keep-alive', { headers: { Connection: 'keep-alive' } }],
    ['status 200 with a body', () => 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello'],
    ['status 403 with a body', () => 'HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\nConnection: close\r\n\r\nforbidden'],
    ['status 302 to another URL', () => 'HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n'],
    ['a subprotocol it did not offer', { protocol: 'chat.v9' }],
    ['an extension it did not offer', { extensions: 'x-unknown' }],
    ['permessage-deflate with server_max_window_bits=7', { extensions: 'permessage-deflate; server_max_window_bits=7' }],
    ['permessage-deflate with an unknown parameter', { extensions: 'permessage-deflate; foo=1' }],
    ['permessage-deflate with client_max_window_bits and no value', { extensions: 'permessage-deflate; client_max_window_bits' }],
    ['permessage-deflate with a parameter named twice', { extensions: 'permessage-deflate; server_no_context_takeover; server_no_context_takeover' }],
    ['permessage-deflate twice', { extensions: 'permessage-deflate, permessage-deflate' }],
    ['something that is not HTTP', () => 'SSH-2.0-OpenSSH_9.6\r\n\r\n'],
  ];
  for (const [label, answer] of badAnswers) {
    it(`client fails with an error then a 1006 close on ${label}`, async () => {
      await withClient(
        async (client, connection) => {
          if (typeof answer === 'function') await connection.writeRaw(answer(connection.request!.get('sec-websocket-key')!));
          else await connection.accept(answer);
          await expectClientFailure(client);
        },
        { protocols: ['chat.v1'] },
      );
    });
  }

  it('client fails on a subprotocol when it offered none', async () => {
    await withClient(async (client, connection) => {
      await connection.accept({ protocol: 'chat.v1' });
      await expectClientFailure(client);
    });
  });

  it('client fails on permessage-deflate when it did not offer it', async () => {
    await withClient(
      async (client, connection) => {
        await connection.accept({ extensions: 'permessage-deflate' });
        await expectClientFailure(client);
      },
      { client: { perMessageDeflate: false } },
    );
  });

  it('client fails on client_max_window_bits in the answer when its offer did not name it (RFC 7692 §7.1.2.2)', async () => {
    await withClient(async (client, connection) => {
      const offer = parseExtensions(connection.request!.get('sec-websocket-extensions')).find((e) => e.name === 'permessage-deflate');
      await connection.accept({ extensions: 'permessage-deflate; client_max_window_bits=10' });
      if (offer?.params.has('client_max_window_bits') === true) {
        await expectOpen(client); // it named the parameter, so the answer is valid
        client.ws.terminate();
      } else {
        await expectClientFailure(client);
      }
    });
  });

  it('client fails when the server closes TCP without answering', async () => {
    await withClient(async (client, connection) => {
      connection.socket.end();
      await expectClientFailure(client);
    });
  });

  it('client fails after handshakeTimeoutMs when the server never answers, and closes TCP', async () => {
    await withClient(
      async (client, connection) => {
        await expectClientFailure(client);
        const elapsed = Date.now() - client.createdAt;
        assert.ok(elapsed >= 250 && elapsed < 2000, `failed after ${elapsed} ms`);
        await connection.reader.waitForEnd(1000);
      },
      { client: { handshakeTimeoutMs: 300 } },
    );
  });
});
