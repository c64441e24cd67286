import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SyntaxError } from '../../src/protocol/errors.js';
import {
  WEBSOCKET_GUID,
  buildClientRequestHeaders,
  buildRejectionResponse,
  buildServerResponse,
  computeAcceptKey,
  generateClientKey,
  validateClientRequest,
  validateServerResponse,
  validateSubprotocols,
  type UpgradeRequest,
} from '../../src/protocol/handshake.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

function request(headers: UpgradeRequest['headers'] = {}, overrides: Partial<UpgradeRequest> = {}): UpgradeRequest {
  const base = {
    host: 'example.com',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': KEY,
    'sec-websocket-version': '13',
  };
  return { method: 'GET', httpVersion: '1.1', ...overrides, headers: { ...base, ...headers } };
}

function assertRejected(req: UpgradeRequest, status: number, headers: Record<string, string> = {}): void {
  const result = validateClientRequest(req);
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(result.status, status);
  assert.deepEqual(result.headers, headers);
  assert.ok(result.reason.length > 0 && result.reason.length < 80);
}

/** Reads a response head the way node's HTTP parser presents it to a client. */
function parseHead(head: string): { statusCode: number; headers: Record<string, string | string[]> } {
  const [statusLine = '', ...lines] = head.split('\r\n\r\n')[0]!.split('\r\n');
  const headers: Record<string, string | string[]> = {};
  for (const line of lines) {
    const [name = '', ...rest] = line.split(':');
    headers[name.toLowerCase()] = rest.join(':').trim();
  }
  return { statusCode: Number(statusLine.split(' ')[1]), headers };
}

function upgradeResponse(headers: Record<string, string | string[] | undefined> = {}): Parameters<typeof validateServerResponse>[0] {
  return { statusCode: 101, headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': ACCEPT, ...headers } };
}

describe('computeAcceptKey and generateClientKey', () => {
  it('server computes the accept key of the RFC 6455 §1.3 example', () => {
    assert.equal(WEBSOCKET_GUID, '258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
    assert.equal(computeAcceptKey(KEY), ACCEPT);
  });

  it('client encodes exactly 16 injected random bytes as base64', () => {
    const lengths: number[] = [];
    const key = generateClientKey((length) => {
      lengths.push(length);
      return new Uint8Array(length).fill(0xab);
    });
    assert.deepEqual(lengths, [16]);
    assert.equal(key, Buffer.alloc(16, 0xab).toString('base64'));
  });

  it('client encodes a view into a larger buffer without its neighbours', () => {
    const backing = new Uint8Array(32).fill(1);
    backing.fill(7, 8, 24);
    assert.equal(generateClientKey(() => backing.subarray(8, 24)), Buffer.alloc(16, 7).toString('base64'));
  });

  it('client throws RangeError when the random source returns the wrong length', () => {
    assert.throws(() => generateClientKey(() => new Uint8Array(15)), RangeError);
  });

  it('server accepts every key the client can generate', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const key = generateClientKey(() => bytes);
        const result = validateClientRequest(request({ 'sec-websocket-key': key }));
        assert.equal(result.ok && result.key, key);
        assert.equal(computeAcceptKey(key).length, 28);
      }),
    );
  });
});

describe('validateClientRequest', () => {
  it('server accepts a minimal valid request with no subprotocol and no extension', () => {
    assert.deepEqual(validateClientRequest(request()), { ok: true, key: KEY, protocols: [], extensions: [] });
  });

  it('server accepts header values in any case and inside token lists', () => {
    const result = validateClientRequest(request({ upgrade: 'h2c, WebSocket', connection: 'keep-alive, UPGRADE' }));
    assert.equal(result.ok, true);
  });

  it('server accepts later HTTP versions', () => {
    assert.equal(validateClientRequest(request({}, { httpVersion: '2.0' })).ok, true);
    assert.equal(validateClientRequest(request({}, { httpVersion: '1.2' })).ok, true);
  });

  it('server returns the offered subprotocols from several header lines in order', () => {
    const result = validateClientRequest(request({ 'sec-websocket-protocol': ['chat, v2.chat', 'Chat'] }));
    assert.deepEqual(result.ok && result.protocols, ['chat', 'v2.chat', 'Chat']);
  });

  it('server returns the parsed extension offers', () => {
    const result = validateClientRequest(request({ 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits, x-foo' }));
    assert.deepEqual(result.ok && result.extensions, [
      { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
      { name: 'x-foo', params: [] },
    ]);
  });

  it('server rejects a method other than GET with 405 and Allow: GET', () => {
    assertRejected(request({}, { method: 'POST' }), 405, { Allow: 'GET' });
    assertRejected(request({}, { method: 'get' }), 405, { Allow: 'GET' });
    assertRejected(request({}, { method: undefined }), 405, { Allow: 'GET' });
  });

  it('server rejects HTTP/1.0 and malformed versions with 400', () => {
    for (const httpVersion of ['1.0', '0.9', '', '1', 'x.y']) assertRejected(request({}, { httpVersion }), 400);
  });

  it('server rejects a request without Host with 400', () => {
    assertRejected(request({ host: undefined }), 400);
  });

  it('server rejects a missing or non-websocket Upgrade with 400', () => {
    assertRejected(request({ upgrade: undefined }), 400);
    assertRejected(request({ upgrade: 'h2c' }), 400);
    assertRejected(request({ upgrade: 'websocket/13' }), 400);
  });

  it('server rejects a Connection header without "upgrade" with 400', () => {
    assertRejected(request({ connection: undefined }), 400);
    assertRejected(request({ connection: 'keep-alive' }), 400);
  });

  it('server rejects version 8 with 426 and Sec-WebSocket-Version: 13', () => {
    assertRejected(request({ 'sec-websocket-version': '8' }), 426, { 'Sec-WebSocket-Version': '13' });
  });

  it('server rejects a missing, padded or repeated version with 426', () => {
    for (const version of [undefined, ' 13', '13, 13', '013', ['13', '13']]) {
      assertRejected(request({ 'sec-websocket-version': version }), 426, { 'Sec-WebSocket-Version': '13' });
    }
  });

  it('server answers 426 to another version even when its key is missing (RFC 6455 §4.4)', () => {
    assertRejected(request({ 'sec-websocket-version': '7', 'sec-websocket-key': undefined }), 426, { 'Sec-WebSocket-Version': '13' });
  });

  it('server rejects a missing or malformed Sec-WebSocket-Key with 400', () => {
    const fifteen = Buffer.alloc(15).toString('base64');
    const seventeen = Buffer.alloc(17).toString('base64');
    for (const key of [undefined, '', fifteen, seventeen, 'dGhlIHNhbXBsZSBub25jZQ', 'dGhlIHNhbXBsZSBub25jZQ=', 'dGhlIHNhbXBsZSBub25jZQ===']) {
      assertRejected(request({ 'sec-websocket-key': key }), 400);
    }
  });

  it('server rejects a non-canonical or non-base64 key with 400', () => {
    for (const key of ['dGhlIHNhbXBsZSBub25jZR==', 'dGhlIHNhbXBsZSBub25jZQ!=', 'dGhlIHNhbXBsZSBub2-jZQ==', 'dGhlIHNhbXBsZSBub25jZQ== ']) {
      assertRejected(request({ 'sec-websocket-key': key }), 400);
    }
  });

  it('server rejects a repeated Sec-WebSocket-Key with 400, joined or as an array', () => {
    assertRejected(request({ 'sec-websocket-key': `${KEY}, ${KEY}` }), 400);
    assertRejected(request({ 'sec-websocket-key': [KEY, KEY] }), 400);
  });

  it('server rejects a subprotocol that is not a token with 400', () => {
    assertRejected(request({ 'sec-websocket-protocol': 'chat, bad protocol' }), 400);
    assertRejected(request({ 'sec-websocket-protocol': 'a/b' }), 400);
  });

  it('server rejects a duplicated subprotocol with 400, also across header lines', () => {
    assertRejected(request({ 'sec-websocket-protocol': 'chat, chat' }), 400);
    assertRejected(request({ 'sec-websocket-protocol': ['chat', 'chat'] }), 400);
  });

  it('server rejects a Sec-WebSocket-Extensions syntax error with 400', () => {
    assertRejected(request({ 'sec-websocket-extensions': 'permessage-deflate; =15' }), 400);
    assertRejected(request({ 'sec-websocket-extensions': ['x-foo', 'a; b="1 2"'] }), 400);
  });
});

describe('buildServerResponse', () => {
  it('server writes the 101 head of RFC 6455 §1.3 byte for byte', () => {
    assert.equal(
      buildServerResponse({ key: KEY }),
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`,
    );
  });

  it('server adds the selected subprotocol, extensions and extra headers in order', () => {
    const head = buildServerResponse({
      key: KEY,
      protocol: 'chat',
      extensions: 'permessage-deflate; server_no_context_takeover',
      headers: { 'Set-Cookie': ['a=1', 'b=2'], 'X-Id': '7' },
    });
    assert.equal(
      head,
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\nSec-WebSocket-Protocol: chat\r\n` +
        'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n' +
        'Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Id: 7\r\n\r\n',
    );
  });

  it('server omits empty subprotocol and extensions', () => {
    assert.equal(buildServerResponse({ key: KEY, protocol: '', extensions: '' }), buildServerResponse({ key: KEY }));
  });

  it('server throws TypeError on CR or LF in an extra header name or value', () => {
    assert.throws(() => buildServerResponse({ key: KEY, headers: { 'X-A': 'x\r\nInjected: 1' } }), TypeError);
    assert.throws(() => buildServerResponse({ key: KEY, headers: { 'X-A': ['ok', 'bad\n'] } }), TypeError);
    assert.throws(() => buildServerResponse({ key: KEY, headers: { 'X-A\r\nB': '1' } }), TypeError);
    assert.throws(() => buildServerResponse({ key: KEY, headers: { 'X A': '1' } }), TypeError);
    assert.throws(() => buildServerResponse({ key: KEY, extensions: 'a\r\nb' }), TypeError);
  });

  it('server throws TypeError when an extra header would duplicate a handshake header', () => {
    for (const name of ['upgrade', 'Connection', 'Sec-WebSocket-Accept', 'sec-websocket-protocol', 'Sec-WebSocket-Extensions']) {
      assert.throws(() => buildServerResponse({ key: KEY, headers: { [name]: 'x' } }), TypeError, name);
    }
  });

  it('server throws TypeError on a subprotocol that is not a token', () => {
    assert.throws(() => buildServerResponse({ key: KEY, protocol: 'a b' }), TypeError);
  });
});

describe('buildRejectionResponse', () => {
  it('server writes a plain-text refusal with Connection: close', () => {
    assert.equal(
      buildRejectionResponse(400, 'Missing Host header'),
      'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 19\r\n\r\nMissing Host header',
    );
  });

  it('server adds extra headers after its own', () => {
    const head = buildRejectionResponse(426, 'Upgrade Required', { 'Sec-WebSocket-Version': '13' });
    assert.ok(head.startsWith('HTTP/1.1 426 Upgrade Required\r\n'));
    assert.ok(head.endsWith('Content-Length: 16\r\nSec-WebSocket-Version: 13\r\n\r\nUpgrade Required'));
  });

  it('server counts Content-Length in UTF-8 bytes', () => {
    assert.ok(buildRejectionResponse(403, 'café ✓').includes('Content-Length: 9\r\n'));
  });

  it('server writes an empty reason phrase for a status without a standard one', () => {
    assert.ok(buildRejectionResponse(499, 'x').startsWith('HTTP/1.1 499 \r\n'));
  });

  it('server throws RangeError on a status that is not a 3xx, 4xx or 5xx integer', () => {
    for (const status of [101, 200, 299, 600, 400.5, Number.NaN]) assert.throws(() => buildRejectionResponse(status, 'x'), RangeError);
  });

  it('server throws TypeError on CR/LF in extra headers or a header it owns', () => {
    assert.throws(() => buildRejectionResponse(401, 'x', { 'WWW-Authenticate': 'a\r\nb' }), TypeError);
    assert.throws(() => buildRejectionResponse(401, 'x', { 'content-length': '0' }), TypeError);
  });
});

describe('validateSubprotocols', () => {
  it('client accepts no protocols, one string or a list', () => {
    assert.deepEqual(validateSubprotocols(undefined), []);
    assert.deepEqual(validateSubprotocols([]), []);
    assert.deepEqual(validateSubprotocols('chat'), ['chat']);
    assert.deepEqual(validateSubprotocols(['chat', 'Chat', 'v1.json']), ['chat', 'Chat', 'v1.json']);
  });

  it('client throws SyntaxError on a protocol that is not a token', () => {
    for (const protocols of ['', 'a b', ['chat', 'a,b'], ['é']]) {
      assert.throws(() => validateSubprotocols(protocols), (error: unknown) => error instanceof SyntaxError && error.code === 'SYNTAX_ERROR');
    }
  });

  it('client throws SyntaxError on a duplicate protocol', () => {
    assert.throws(() => validateSubprotocols(['chat', 'v2', 'chat']), SyntaxError);
  });

  it('client returns a copy, not the caller array', () => {
    const protocols = ['a'];
    assert.notEqual(validateSubprotocols(protocols), protocols);
  });
});

describe('buildClientRequestHeaders', () => {
  it('client sends the four handshake headers and nothing else by default', () => {
    assert.deepEqual(buildClientRequestHeaders({ key: KEY, protocols: [] }), {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Key': KEY,
      'Sec-WebSocket-Version': '13',
    });
  });

  it('client adds subprotocols comma-joined, extensions and user headers', () => {
    const headers = buildClientRequestHeaders({
      key: KEY,
      protocols: ['chat', 'v2'],
      extensions: 'permessage-deflate; client_max_window_bits',
      headers: { Origin: 'https://example.com', Authorization: 'Bearer t' },
    });
    assert.equal(headers['Sec-WebSocket-Protocol'], 'chat, v2');
    assert.equal(headers['Sec-WebSocket-Extensions'], 'permessage-deflate; client_max_window_bits');
    assert.equal(headers.Origin, 'https://example.com');
    assert.equal(headers.Authorization, 'Bearer t');
  });

  it('client throws TypeError when a user header would override a handshake header in any case', () => {
    for (const name of ['connection', 'UPGRADE', 'Sec-WebSocket-Key', 'sec-websocket-version', 'Sec-Websocket-Protocol', 'sec-websocket-extensions']) {
      assert.throws(() => buildClientRequestHeaders({ key: KEY, protocols: [], headers: { [name]: 'x' } }), TypeError, name);
    }
  });

  it('client throws TypeError on CR/LF in a user header', () => {
    assert.throws(() => buildClientRequestHeaders({ key: KEY, protocols: [], headers: { 'X-A': 'a\nb' } }), TypeError);
    assert.throws(() => buildClientRequestHeaders({ key: KEY, protocols: [], headers: { 'X:A': 'a' } }), TypeError);
  });
});

describe('validateServerResponse', () => {
  const expected = { key: KEY, protocols: ['chat', 'v2'] };

  it('client accepts a 101 with the right accept key, no subprotocol and no extension', () => {
    assert.deepEqual(validateServerResponse(upgradeResponse(), expected), { ok: true, protocol: '', extensions: [] });
  });

  it('client accepts what buildServerResponse writes', () => {
    const head = buildServerResponse({ key: KEY, protocol: 'v2', extensions: 'permessage-deflate; server_max_window_bits=10' });
    assert.deepEqual(validateServerResponse(parseHead(head), expected), {
      ok: true,
      protocol: 'v2',
      extensions: [{ name: 'permessage-deflate', params: [['server_max_window_bits', '10']] }],
    });
  });

  it('client fails on a status other than 101', () => {
    for (const statusCode of [200, 400, undefined]) assert.equal(validateServerResponse({ ...upgradeResponse(), statusCode }, expected).ok, false);
  });

  it('client fails on a missing Upgrade: websocket or Connection: upgrade', () => {
    assert.equal(validateServerResponse(upgradeResponse({ upgrade: undefined }), expected).ok, false);
    assert.equal(validateServerResponse(upgradeResponse({ upgrade: 'h2c' }), expected).ok, false);
    assert.equal(validateServerResponse(upgradeResponse({ connection: 'close' }), expected).ok, false);
  });

  it('client fails on a missing, wrong or repeated Sec-WebSocket-Accept', () => {
    for (const accept of [undefined, '', computeAcceptKey('x'), [ACCEPT, ACCEPT], `${ACCEPT}, ${ACCEPT}`]) {
      assert.equal(validateServerResponse(upgradeResponse({ 'sec-websocket-accept': accept }), expected).ok, false);
    }
  });

  it('client fails when the server selects a subprotocol that was not offered', () => {
    assert.equal(validateServerResponse(upgradeResponse({ 'sec-websocket-protocol': 'Chat' }), expected).ok, false);
    assert.equal(validateServerResponse(upgradeResponse({ 'sec-websocket-protocol': 'chat, v2' }), expected).ok, false);
    assert.equal(validateServerResponse(upgradeResponse({ 'sec-websocket-protocol': ['chat', 'v2'] }), expected).ok, false);
    assert.equal(validateServerResponse(upgradeResponse({ 'sec-websocket-protocol': 'chat' }), { key: KEY, protocols: [] }).ok, false);
  });

  it('client fails on a Sec-WebSocket-Extensions syntax error', () => {
    const result = validateServerResponse(upgradeResponse({ 'sec-websocket-extensions': 'permessage-deflate;' }), expected);
    assert.equal(result.ok, false);
  });
});
