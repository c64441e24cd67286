import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kMaxLength } from 'node:buffer';
import fc from 'fast-check';
import { ConnectionState } from '../../src/protocol/connection.js';
import { InvalidAccessError, InvalidStateError, LimitExceededError, PeerError, SyntaxError } from '../../src/protocol/errors.js';
import { encodeFrame } from '../../src/protocol/frame-writer.js';
import { ConnectionHarness, closeCodeOf, closePayload, concatOwn, frame, hex, ownCopy, type HarnessOptions } from './connection-harness.js';

const KEY = hex('37 fa 21 3d');

const server = (options: Partial<HarnessOptions> = {}): ConnectionHarness => new ConnectionHarness({ role: 'server', ...options });
const client = (options: Partial<HarnessOptions> = {}): ConnectionHarness => new ConnectionHarness({ role: 'client', maskKeys: [KEY], ...options });

/** A frame as a client sends it (masked with KEY). */
const fromClient = (spec: Parameters<typeof frame>[0]): Buffer => frame({ maskKey: KEY, ...spec });

function assertFailedWith(h: ConnectionHarness, closeCode: number, kind: typeof PeerError | typeof LimitExceededError = PeerError): void {
  assert.ok(h.failure instanceof kind, `expected ${kind.name}, got ${h.failure.constructor.name}: ${h.failure.message}`);
  assert.equal(h.failure.closeCode, closeCode);
  assert.deepEqual(h.closeCodesWritten, [closeCode]);
  assert.deepEqual(h.types.slice(-2), ['failure', 'end']);
  assert.equal(h.connection.state, ConnectionState.CLOSED);
  assert.equal(h.connection.sentCloseCode, closeCode);
  assert.equal(h.of('message').length, 0, 'no message after or because of a fault');
}

function assertThrowsInvalidState(action: () => void): void {
  assert.throws(action, (error: unknown) => error instanceof InvalidStateError && error.code === 'INVALID_STATE');
}

describe('Connection ping and pong', () => {
  it('server answers a ping with a pong carrying the same payload (RFC 6455 §5.5.2)', () => {
    const h = server();
    h.feedHex('89 85 37 fa 21 3d 7f 9f 4d 51 58');
    assert.equal(h.writtenHex, '8a 05 48 65 6c 6c 6f');
    assert.deepEqual(h.allTypes, ['write', 'ping']);
    assert.equal(h.of('ping')[0]!.data.toString(), 'Hello');
  });

  it('client answers a ping with a masked pong carrying the same payload', () => {
    const h = client();
    h.feedHex('89 05 48 65 6c 6c 6f');
    assert.equal(h.writtenHex, '8a 85 37 fa 21 3d 7f 9f 4d 51 58');
  });

  it('server answers an empty ping with an empty pong', () => {
    const h = server();
    h.feedHex('89 80 37 fa 21 3d');
    assert.equal(h.writtenHex, '8a 00');
  });

  it('server reports a pong and writes nothing', () => {
    const h = server();
    h.feed(fromClient({ opcode: 0xa, payload: 'beat' }));
    assert.deepEqual(h.allTypes, ['pong']);
    assert.equal(h.of('pong')[0]!.data.toString(), 'beat');
  });

  it('server answers a ping between the fragments of a message before delivering the message', () => {
    const h = server();
    h.feed(
      concatOwn([
        fromClient({ opcode: 0x1, fin: false, payload: 'ab' }),
        fromClient({ opcode: 0x9, payload: 'p' }),
        fromClient({ opcode: 0x0, payload: 'cd' }),
      ]),
    );
    assert.deepEqual(h.allTypes, ['write', 'ping', 'message']);
    assert.equal(h.of('message')[0]!.data.toString(), 'abcd');
    assert.equal(h.writtenHex, '8a 01 70');
  });

  it('server writes a ping of exactly 125 bytes and refuses 126 with RangeError', () => {
    const h = server();
    h.connection.ping(Buffer.alloc(125, 0x61));
    assert.equal(h.written.subarray(0, 2).toString('hex'), '897d');
    assert.equal(h.written.length, 127);
    assert.throws(() => h.connection.ping(Buffer.alloc(126)), RangeError);
    assert.throws(() => h.connection.pong(Buffer.alloc(126)), RangeError);
    assert.equal(h.written.length, 127, 'nothing written for the refused ping');
  });
});

describe('Connection sending', () => {
  it('server sends text and binary unmasked, byte-exact', () => {
    const h = server();
    h.connection.send(Buffer.from('hi'), false);
    h.connection.send(hex('01 02'), true);
    h.connection.pong(Buffer.from('x'));
    assert.equal(h.writtenHex, '81 02 68 69 82 02 01 02 8a 01 78');
  });

  it('server sends a compressed message with RSV1 set', () => {
    const h = server({ compression: true });
    h.connection.sendCompressed(hex('f2 48 cd c9 c9 07 00'), false);
    assert.equal(h.writtenHex, 'c1 07 f2 48 cd c9 c9 07 00');
  });

  it('client masks every frame with a fresh injected key', () => {
    const h = client({ maskKeys: [KEY, hex('00 00 00 00')] });
    h.connection.send(Buffer.from('Hello'), false);
    h.connection.send(Buffer.from('Hello'), false);
    assert.equal(h.writtenHex, '81 85 37 fa 21 3d 7f 9f 4d 51 58 81 85 00 00 00 00 48 65 6c 6c 6f');
    assert.equal(h.maskKeysUsed.length, 2);
  });

  it('server writes pre-encoded chunks as they are', () => {
    const h = server();
    h.connection.sendEncoded([hex('81 01 61'), hex('81 01 62')]);
    assert.equal(h.writtenHex, '81 01 61 81 01 62');
  });
});

describe('Connection receiving messages', () => {
  it('client reads the RFC 6455 §5.7 examples: fragmented text, ping, 256 bytes and 64 KiB unmasked', () => {
    const h = client();
    h.feedHex('01 03 48 65 6c 80 02 6c 6f');
    h.feedHex('89 05 48 65 6c 6c 6f');
    h.feed(concatOwn([hex('82 7e 01 00'), Buffer.alloc(256, 1), hex('82 7f 00 00 00 00 00 01 00 00'), Buffer.alloc(65536, 2)]));
    assert.deepEqual(h.types, ['message', 'ping', 'message', 'message']);
    const messages = h.of('message');
    assert.deepEqual([messages[0]!.data.toString(), messages[0]!.isBinary], ['Hello', false]);
    assert.deepEqual([messages[1]!.data, messages[1]!.isBinary], [Buffer.alloc(256, 1), true]);
    assert.deepEqual(messages[2]!.data, Buffer.alloc(65536, 2));
  });

  it('server delivers a one-frame message inside one read as a view of that read (zero copy)', () => {
    const h = server();
    const chunk = fromClient({ opcode: 0x2, payload: hex('01 02 03') });
    h.feed(chunk);
    const view = h.of('message')[0]!.view;
    assert.equal(view.buffer, chunk.buffer);
    assert.equal(view.byteOffset, chunk.byteOffset + 6);
    assert.deepEqual(view, hex('01 02 03'));
  });

  it('server delivers empty text and binary messages', () => {
    const h = server();
    h.feed(fromClient({ opcode: 0x1 }), fromClient({ opcode: 0x2 }), fromClient({ opcode: 0x1, fin: false }), fromClient({ opcode: 0x0 }));
    assert.deepEqual(
      h.of('message').map((event) => [event.data.length, event.isBinary]),
      [
        [0, false],
        [0, true],
        [0, false],
      ],
    );
  });
});

describe('Connection closing handshake', () => {
  it('server answers a close frame with the same code, reports it and ends (RFC 6455 §7.1.1)', () => {
    const h = server();
    h.feed(fromClient({ opcode: 0x8, payload: closePayload(1000, 'bye') }));
    assert.equal(h.writtenHex, '88 02 03 e8');
    assert.deepEqual(h.allTypes, ['write', 'closeFrame', 'end']);
    assert.deepEqual(h.of('closeFrame')[0], { type: 'closeFrame', code: 1000, reason: 'bye' });
    assert.equal(h.connection.state, ConnectionState.CLOSED);
    assert.equal(h.connection.receivedCloseCode, 1000);
    assert.equal(h.connection.sentCloseCode, 1000);
  });

  it('server that closed first expects the answer, then ends without writing again', () => {
    const h = server();
    h.connection.close(1000, 'done');
    assert.equal(h.writtenHex, '88 06 03 e8 64 6f 6e 65');
    assert.deepEqual(h.allTypes, ['write', 'closeExpected']);
    assert.equal(h.connection.state, ConnectionState.CLOSING);
    h.clear();
    h.feed(fromClient({ opcode: 0x8, payload: closePayload(1000) }));
    assert.deepEqual(h.allTypes, ['closeFrame', 'end']);
    assert.equal(h.connection.state, ConnectionState.CLOSED);
  });

  it('client that closed first gets the answer and waits for the server to close TCP', () => {
    const h = client();
    h.connection.close(1000);
    assert.equal(h.writtenHex, '88 82 37 fa 21 3d 34 12');
    assert.deepEqual(h.allTypes, ['write', 'closeExpected']);
    h.clear();
    h.feedHex('88 02 03 e8');
    assert.deepEqual(h.types, ['closeFrame', 'closeExpected']);
    assert.equal(h.written.length, 0);
    assert.equal(h.connection.state, ConnectionState.CLOSED);
  });

  it('client answers the server close with a masked echo and expects TCP close, not end', () => {
    const h = client();
    h.feedHex('88 02 03 e9');
    assert.equal(h.writtenHex, '88 82 37 fa 21 3d 34 13');
    assert.deepEqual(h.allTypes, ['write', 'closeFrame', 'closeExpected']);
    assert.deepEqual(h.of('closeFrame')[0], { type: 'closeFrame', code: 1001, reason: '' });
  });

  it('server answers an empty close with an empty close and reports 1005', () => {
    const h = server();
    h.feedHex('88 80 37 fa 21 3d');
    assert.equal(h.writtenHex, '88 00');
    assert.deepEqual(h.of('closeFrame')[0], { type: 'closeFrame', code: 1005, reason: '' });
    assert.equal(h.connection.receivedCloseCode, 1005);
  });

  it('server closes without a code as an empty close frame', () => {
    const h = server();
    h.connection.close();
    assert.equal(h.writtenHex, '88 00');
    assert.equal(h.connection.sentCloseCode, 1005);
  });

  it('server accepts a close reason of 123 bytes from the peer', () => {
    const h = server();
    const reason = 'é'.repeat(61) + 'x';
    h.feed(fromClient({ opcode: 0x8, payload: closePayload(4000, reason) }));
    assert.deepEqual(h.of('closeFrame')[0], { type: 'closeFrame', code: 4000, reason });
  });

  it('server fails with 1002 on a 1-byte close payload (RFC 6455 §5.5.1)', () => {
    const h = server();
    h.feed(fromClient({ opcode: 0x8, payload: hex('03') }));
    assertFailedWith(h, 1002);
    assert.equal(h.of('closeFrame').length, 0);
  });

  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
    it(`server fails with 1002 on close code ${code}`, () => {
      const h = server();
      h.feed(fromClient({ opcode: 0x8, payload: closePayload(code, 'x') }));
      assertFailedWith(h, 1002);
      assert.equal(h.of('closeFrame').length, 0);
    });
  }

  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]) {
    it(`server echoes the valid close code ${code}`, () => {
      const h = server();
      h.feed(fromClient({ opcode: 0x8, payload: closePayload(code) }));
      assert.deepEqual(h.closeCodesWritten, [code]);
      assert.equal(h.of('closeFrame')[0]!.code, code);
    });
  }

  it('server fails with 1007 on a close reason that is not UTF-8', () => {
    const h = server();
    h.feed(fromClient({ opcode: 0x8, payload: closePayload(1000, hex('61 ff')) }));
    assertFailedWith(h, 1007);
  });

  it('server discards data frames that arrive after its close, and the rest of a message begun before', () => {
    const h = server();
    h.feed(fromClient({ opcode: 0x1, fin: false, payload: 'par' }));
    h.connection.close(1001);
    h.feed(fromClient({ opcode: 0x0, payload: 'tial' }), fromClient({ opcode: 0x2, payload: hex('01') }));
    assert.equal(h.of('message').length, 0);
    h.feed(fromClient({ opcode: 0x8, payload: closePayload(1001) }));
    assert.deepEqual(h.types, ['closeExpected', 'closeFrame', 'end']);
    assert.deepEqual(h.closeCodesWritten, [1001]);
  });

  it('server sends no pong after its close frame', () => {
    const h = server();
    h.connection.close(1000);
    h.feed(fromClient({ opcode: 0x9, payload: 'late' }));
    assert.equal(h.writtenFrames().length, 1);
    assert.equal(h.writtenFrames()[0]!.opcode, 0x8);
  });

  it('server ignores everything after the peer close frame, even in the same read', () => {
    const h = server();
    h.feed(concatOwn([fromClient({ opcode: 0x8, payload: closePayload(1000) }), fromClient({ opcode: 0x1, payload: 'late' }), hex('ff ff')]));
    assert.deepEqual(h.types, ['closeFrame', 'end']);
  });

  it('server fails without a second close frame when the peer errs after our close', () => {
    const h = server();
    h.connection.close(1000);
    h.feed(frame({ opcode: 0x1, payload: 'unmasked' }));
    assert.deepEqual(h.closeCodesWritten, [1000]);
    assert.deepEqual(h.types, ['closeExpected', 'failure', 'end']);
    assert.equal(h.failure.closeCode, 1002);
  });

  it('server close() twice writes one close frame', () => {
    const h = server();
    h.connection.close(1000);
    h.connection.close(1001);
    assert.deepEqual(h.closeCodesWritten, [1000]);
  });

  it('server refuses a close reason over 123 bytes with SyntaxError and stays open', () => {
    const h = server();
    for (const reason of ['x'.repeat(124), 'é'.repeat(62)]) {
      assert.throws(() => h.connection.close(1000, reason), (error: unknown) => error instanceof SyntaxError && error.code === 'SYNTAX_ERROR');
    }
    assert.equal(h.written.length, 0);
    assert.equal(h.connection.state, ConnectionState.OPEN);
    h.connection.close(1000, 'x'.repeat(123));
    assert.equal(h.written.length, 2 + 2 + 123);
  });

  it('server refuses a reason without a code (SyntaxError) and a reserved code (InvalidAccessError)', () => {
    const h = server();
    assert.throws(() => h.connection.close(undefined, 'why'), SyntaxError);
    assert.throws(() => h.connection.close(1005), InvalidAccessError);
    assert.throws(() => h.connection.close(1006), InvalidAccessError);
    assert.equal(h.written.length, 0);
    assert.equal(h.connection.state, ConnectionState.OPEN);
  });
});

describe('Connection misuse after close', () => {
  const attempts = (h: ConnectionHarness): (() => void)[] => [
    () => h.connection.send(Buffer.from('x'), false),
    () => h.connection.send(Buffer.from('x'), true),
    () => h.connection.sendCompressed(Buffer.from('x'), false),
    () => h.connection.sendEncoded([hex('81 00')]),
    () => h.connection.ping(Buffer.alloc(0)),
    () => h.connection.pong(Buffer.alloc(0)),
  ];

  it('server throws InvalidStateError on send, ping and pong after close()', () => {
    const h = server();
    h.connection.close(1000);
    for (const attempt of attempts(h)) assertThrowsInvalidState(attempt);
    assert.equal(h.writtenFrames().length, 1);
  });

  it('server throws InvalidStateError on send after the peer closed', () => {
    const h = server();
    h.feed(fromClient({ opcode: 0x8, payload: closePayload(1000) }));
    for (const attempt of attempts(h)) assertThrowsInvalidState(attempt);
  });

  it('server throws InvalidStateError on send after failing the connection', () => {
    const h = server();
    h.feed(frame({ opcode: 0x1, payload: 'unmasked' }));
    for (const attempt of attempts(h)) assertThrowsInvalidState(attempt);
  });

  it('client throws InvalidStateError on send after end of stream and ignores later input', () => {
    const h = client();
    h.connection.receiveEof();
    assert.equal(h.connection.state, ConnectionState.CLOSED);
    for (const attempt of attempts(h)) assertThrowsInvalidState(attempt);
    h.feedHex('81 01 61');
    assert.deepEqual(h.allTypes, []);
  });

  it('client aborted ignores later input', () => {
    const h = client();
    h.feedHex('81 03 61');
    h.connection.abort();
    h.feedHex('62 63');
    assert.deepEqual(h.allTypes, []);
  });
});

describe('Connection protocol faults', () => {
  it('server fails with 1002 on an unmasked frame', () => {
    const h = server();
    h.feedHex('81 02 68 69');
    assertFailedWith(h, 1002);
  });

  it('client fails with 1002 on a masked frame', () => {
    const h = client();
    h.feed(frame({ opcode: 0x1, payload: 'hi', maskKey: KEY }));
    assertFailedWith(h, 1002);
  });

  it('server fails with 1002 on a continuation without a message', () => {
    const h = server();
    h.feed(fromClient({ opcode: 0x0, payload: 'x' }));
    assertFailedWith(h, 1002);
  });

  it('server fails with 1002 on a new data frame inside a fragmented message (RFC 6455 §5.4)', () => {
    const h = server();
    h.feed(fromClient({ opcode: 0x1, fin: false, payload: 'a' }), fromClient({ opcode: 0x2, payload: 'b' }));
    assertFailedWith(h, 1002);
  });

  it('server fails with 1002 on a reserved opcode', () => {
    const h = server();
    h.feed(fromClient({ opcode: 0x3, payload: 'x' }));
    assertFailedWith(h, 1002);
  });

  it('server fails with 1002 on a 64-bit length with the top bit set', () => {
    const h = server();
    h.feedHex('82 ff 80 00 00 00 00 00 00 00 37 fa 21 3d');
    assertFailedWith(h, 1002);
  });

  it('server fails with 1007 on a single-frame text message that is not UTF-8', () => {
    const h = server();
    h.feed(fromClient({ opcode: 0x1, payload: hex('68 c3 28') }));
    assertFailedWith(h, 1007);
  });

  it('server fails fast with 1007 on bad UTF-8 in fragment 2 of 3, before fragment 3 (RFC 6455 §8.1)', () => {
    const h = server();
    h.feed(fromClient({ opcode: 0x1, fin: false, payload: 'hello' }));
    assert.deepEqual(h.allTypes, []);
    h.feed(fromClient({ opcode: 0x0, fin: false, payload: hex('20 ff') }));
    assertFailedWith(h, 1007);
    assert.deepEqual(h.allTypes, ['write', 'failure', 'end']);
    h.feed(fromClient({ opcode: 0x0, payload: 'world' }));
    assert.deepEqual(h.allTypes, ['write', 'failure', 'end'], 'fragment 3 is discarded');
  });

  it('server accepts a character split across fragments', () => {
    const h = server();
    const bytes = Buffer.from('a😀b');
    h.feed(fromClient({ opcode: 0x1, fin: false, payload: bytes.subarray(0, 3) }), fromClient({ opcode: 0x0, payload: bytes.subarray(3) }));
    assert.equal(h.of('message')[0]!.data.toString(), 'a😀b');
  });

  it('server fails with 1007 when a fragmented text message ends inside a character', () => {
    const h = server();
    h.feed(fromClient({ opcode: 0x1, fin: false, payload: 'a' }), fromClient({ opcode: 0x0, payload: hex('f0 9f') }));
    assertFailedWith(h, 1007);
  });

  it('server fails with 1002 on RSV1 without permessage-deflate', () => {
    const h = server();
    h.feed(fromClient({ opcode: 0x1, rsv: 0x40, payload: 'x' }));
    assertFailedWith(h, 1002);
  });

  for (const rsv of [0x20, 0x10]) {
    it(`server fails with 1002 on reserved bit ${rsv.toString(16)} even with permessage-deflate`, () => {
      const h = server({ compression: true });
      h.feed(fromClient({ opcode: 0x1, rsv, payload: 'x' }));
      assertFailedWith(h, 1002);
    });
  }

  it('server fails with 1002 on RSV1 on a continuation frame (RFC 7692 §6)', () => {
    const h = server({ compression: true });
    h.feed(fromClient({ opcode: 0x2, fin: false, payload: 'a' }), fromClient({ opcode: 0x0, rsv: 0x40, payload: 'b' }));
    assertFailedWith(h, 1002);
    assert.equal(h.of('inflate').length, 0);
  });

  for (const opcode of [0x8, 0x9, 0xa]) {
    it(`server fails with 1002 on RSV1 on control opcode ${opcode.toString(16)}`, () => {
      const h = server({ compression: true });
      h.feed(fromClient({ opcode, rsv: 0x40, payload: '' }));
      assertFailedWith(h, 1002);
    });
  }

  it('server with a huge maxMessageBytes does not throw on a frame longer than a Buffer can hold', () => {
    const h = server({ limits: { maxMessageBytes: Number.MAX_SAFE_INTEGER } });
    // One byte over buffer.kMaxLength: 2^32 on Node 20, 2^53 - 1 on Node 22 and later.
    const length = BigInt(kMaxLength) + 1n;
    const header = Buffer.alloc(10);
    header[0] = 0x82;
    header[1] = 0xff;
    header.writeBigUInt64BE(length, 2);
    assert.doesNotThrow(() => h.feed(Buffer.concat([header, Buffer.from('37fa213d6162', 'hex')])));
    assertFailedWith(h, 1009, LimitExceededError);
  });
});

describe('Connection limits', () => {
  it('server refuses a single frame over maxMessageBytes at its header, before the payload (1009)', () => {
    const h = server({ limits: { maxMessageBytes: 10 } });
    h.feedHex('82 8b 37 fa 21 3d');
    assertFailedWith(h, 1009, LimitExceededError);
    const error = h.failure as LimitExceededError;
    assert.deepEqual([error.limit, error.max, error.actual], ['maxMessageBytes', 10, 11]);
  });

  it('server accepts a message of exactly maxMessageBytes, in one frame and in fragments', () => {
    const h = server({ limits: { maxMessageBytes: 10 } });
    h.feed(fromClient({ opcode: 0x2, payload: Buffer.alloc(10, 1) }));
    h.feed(fromClient({ opcode: 0x1, fin: false, payload: '12345' }), fromClient({ opcode: 0x0, payload: '67890' }));
    assert.equal(h.of('message').length, 2);
    assert.equal(h.of('message')[1]!.data.toString(), '1234567890');
    assert.equal(h.of('failure').length, 0);
  });

  it('server refuses a message over maxMessageBytes across fragments at the header of the fragment that crosses it', () => {
    const h = server({ limits: { maxMessageBytes: 10 } });
    h.feed(fromClient({ opcode: 0x1, fin: false, payload: '123456' }));
    h.feedHex('80 85 37 fa 21 3d');
    assertFailedWith(h, 1009, LimitExceededError);
    assert.equal((h.failure as LimitExceededError).actual, 11);
  });

  it('server does not count control frames or earlier messages towards maxMessageBytes', () => {
    const h = server({ limits: { maxMessageBytes: 4 } });
    h.feed(
      fromClient({ opcode: 0x2, payload: '1234' }),
      fromClient({ opcode: 0x2, fin: false, payload: '12' }),
      fromClient({ opcode: 0x9, payload: 'ping-payload' }),
      fromClient({ opcode: 0x0, payload: '34' }),
    );
    assert.equal(h.of('message').length, 2);
    assert.equal(h.of('failure').length, 0);
  });

  it('server accepts exactly maxFragmentsPerMessage fragments, control frames not counted', () => {
    const h = server({ limits: { maxFragmentsPerMessage: 3 } });
    for (let round = 0; round < 2; round++) {
      h.feed(
        fromClient({ opcode: 0x1, fin: false, payload: 'a' }),
        fromClient({ opcode: 0x9, payload: '' }),
        fromClient({ opcode: 0x0, fin: false, payload: '' }),
        fromClient({ opcode: 0xa, payload: '' }),
        fromClient({ opcode: 0x0, payload: 'c' }),
      );
    }
    assert.deepEqual(
      h.of('message').map((event) => event.data.toString()),
      ['ac', 'ac'],
    );
  });

  it('server refuses the fragment past maxFragmentsPerMessage at its header (1009)', () => {
    const h = server({ limits: { maxFragmentsPerMessage: 3 } });
    h.feed(
      fromClient({ opcode: 0x2, fin: false, payload: 'a' }),
      fromClient({ opcode: 0x0, fin: false, payload: 'b' }),
      fromClient({ opcode: 0x0, fin: false, payload: 'c' }),
    );
    h.feedHex('80 81 37 fa 21 3d');
    assertFailedWith(h, 1009, LimitExceededError);
    const error = h.failure as LimitExceededError;
    assert.deepEqual([error.limit, error.max, error.actual], ['maxFragmentsPerMessage', 3, 4]);
  });

  it('server refuses a compressed frame far beyond maxMessageBytes at its header', () => {
    const h = server({ compression: true, limits: { maxMessageBytes: 1000 } });
    h.feedHex('c2 fe 27 10 37 fa 21 3d');
    assertFailedWith(h, 1009, LimitExceededError);
    assert.equal(h.of('inflate').length, 0);
  });
});

describe('Connection compressed messages', () => {
  it('server hands a compressed frame to inflate and parses nothing more until inflated()', () => {
    const h = server({ compression: true });
    const compressed = hex('f2 48 cd c9 c9 07 00');
    h.feed(concatOwn([fromClient({ opcode: 0x1, rsv: 0x40, payload: compressed }), fromClient({ opcode: 0x9, payload: 'p' })]));
    assert.deepEqual(h.allTypes, ['inflate']);
    assert.deepEqual(h.of('inflate')[0], { type: 'inflate', payload: compressed, fin: true });
    h.feed(fromClient({ opcode: 0x2, payload: 'later' }));
    assert.deepEqual(h.allTypes, ['inflate'], 'still waiting for the decompressor');
    h.connection.inflated(Buffer.from('Hello'));
    assert.deepEqual(h.allTypes, ['inflate', 'message', 'write', 'ping', 'message']);
    const messages = h.of('message');
    assert.deepEqual([messages[0]!.data.toString(), messages[0]!.isBinary], ['Hello', false]);
    assert.deepEqual([messages[1]!.data.toString(), messages[1]!.isBinary], ['later', true]);
    assert.equal(h.writtenHex, '8a 01 70');
  });

  it('server inflates each fragment of a compressed message, RSV1 on the first only', () => {
    const h = server({ compression: true });
    h.feed(fromClient({ opcode: 0x1, fin: false, rsv: 0x40, payload: hex('01 02') }), fromClient({ opcode: 0x0, payload: hex('03') }));
    assert.deepEqual(h.of('inflate').map((event) => event.fin), [false]);
    h.connection.inflated(Buffer.from('Hel'));
    assert.deepEqual(h.of('inflate').map((event) => event.fin), [false, true]);
    h.connection.inflated(Buffer.from('lo'));
    assert.equal(h.of('message')[0]!.data.toString(), 'Hello');
  });

  it('server delivers an uncompressed message after a compressed one', () => {
    const h = server({ compression: true });
    h.feed(fromClient({ opcode: 0x2, rsv: 0x40, payload: hex('00') }));
    h.connection.inflated(Buffer.alloc(0));
    h.feed(fromClient({ opcode: 0x2, payload: 'raw' }));
    assert.deepEqual(h.types, ['inflate', 'message', 'message']);
    assert.equal(h.of('inflate').length, 1);
  });

  it('server keeps parsing when inflate is answered synchronously', () => {
    let h: ConnectionHarness | undefined;
    h = server({ compression: true, onInflate: () => h!.connection.inflated(Buffer.from('sync')) });
    h.feed(concatOwn([fromClient({ opcode: 0x1, rsv: 0x40, payload: hex('00') }), fromClient({ opcode: 0x1, payload: 'next' })]));
    h.feed(fromClient({ opcode: 0x1, payload: 'after' }));
    assert.deepEqual(
      h.of('message').map((event) => event.data.toString()),
      ['sync', 'next', 'after'],
    );
  });

  it('server fails with 1007 when the inflated text is not UTF-8', () => {
    const h = server({ compression: true });
    h.feed(fromClient({ opcode: 0x1, rsv: 0x40, payload: hex('00') }));
    h.connection.inflated(hex('ff'));
    assertFailedWith(h, 1007);
  });

  it('server fails with 1009 when the inflated message exceeds maxMessageBytes (single frame)', () => {
    const h = server({ compression: true, limits: { maxMessageBytes: 10 } });
    h.feed(fromClient({ opcode: 0x2, rsv: 0x40, payload: hex('00') }));
    h.connection.inflated(Buffer.alloc(11));
    assertFailedWith(h, 1009, LimitExceededError);
  });

  it('server fails with 1009 when the inflated fragments exceed maxMessageBytes', () => {
    const h = server({ compression: true, limits: { maxMessageBytes: 10 } });
    h.feed(fromClient({ opcode: 0x2, fin: false, rsv: 0x40, payload: hex('00') }), fromClient({ opcode: 0x0, payload: hex('00') }));
    h.connection.inflated(Buffer.alloc(6));
    h.connection.inflated(Buffer.alloc(5));
    assertFailedWith(h, 1009, LimitExceededError);
  });

  it('server fails with the decompressor error code when inflate fails', () => {
    const h = server({ compression: true });
    h.feed(fromClient({ opcode: 0x2, rsv: 0x40, payload: hex('ff') }));
    h.connection.inflateFailed(new PeerError('invalid compressed data', 1007));
    assertFailedWith(h, 1007);
  });

  it('server sends 1011 with no reason on the wire for an internal failure', () => {
    const h = server({ compression: true });
    h.feed(fromClient({ opcode: 0x2, rsv: 0x40, payload: hex('ff') }));
    h.connection.inflateFailed(new PeerError('zlib exploded: secret detail', 1011));
    assert.equal(h.writtenHex, '88 02 03 f3');
  });

  it('server ignores an inflated() answer that arrives after end of stream', () => {
    const h = server({ compression: true });
    h.feed(fromClient({ opcode: 0x2, rsv: 0x40, payload: hex('00') }));
    h.connection.receiveEof();
    h.connection.inflated(Buffer.from('late'));
    assert.deepEqual(h.allTypes, ['inflate']);
  });
});

// ---- property tests ----

type Item =
  | { kind: 'ping'; data: Uint8Array }
  | { kind: 'message'; isBinary: boolean; payload: Uint8Array; cuts: number[]; pingAfter: (Uint8Array | null)[] };

const pingPayload = fc.uint8Array({ maxLength: 125 });
const textBytes = fc.string({ unit: 'binary', maxLength: 40 }).map((text) => new Uint8Array(Buffer.from(text, 'utf8')));
const binaryBytes = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 1, arbitrary: fc.constantFrom(125, 126, 65535, 65536).map((n) => new Uint8Array(n).fill(0x5a)) },
);
const smallBinaryBytes = fc.uint8Array({ maxLength: 130 });

function itemArbitrary(binary: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Item> {
  const message = fc.boolean().chain((isBinary) =>
    fc.record({
      kind: fc.constant('message' as const),
      isBinary: fc.constant(isBinary),
      payload: isBinary ? binary : textBytes,
      cuts: fc.array(fc.nat(), { maxLength: 4 }),
      pingAfter: fc.array(fc.option(pingPayload, { nil: null }), { maxLength: 4 }),
    }),
  );
  return fc.oneof({ weight: 4, arbitrary: message }, { weight: 1, arbitrary: fc.record({ kind: fc.constant('ping' as const), data: pingPayload }) });
}

const maskKeys = fc.array(fc.uint8Array({ minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 6 });

interface Expected {
  events: { type: string; data: string; isBinary?: boolean }[];
  pongs: string[];
}

/** Encodes the items with the frame writer as a client would; returns the bytes and what a server should report. */
function encodeItems(items: readonly Item[], keys: readonly Uint8Array[]): { bytes: Buffer; expected: Expected } {
  const chunks: Buffer[] = [];
  const expected: Expected = { events: [], pongs: [] };
  let frameIndex = 0;
  const emit = (chunk: Buffer): void => void chunks.push(chunk);
  const write = (fin: boolean, opcode: number, payload: Uint8Array): void => {
    encodeFrame({ fin, rsv1: false, opcode, maskKey: keys[frameIndex++ % keys.length]! }, payload, emit);
  };
  const ping = (data: Uint8Array): void => {
    write(true, 0x9, data);
    expected.events.push({ type: 'ping', data: Buffer.from(data).toString('hex') });
    expected.pongs.push(Buffer.from(data).toString('hex'));
  };
  for (const item of items) {
    if (item.kind === 'ping') {
      ping(item.data);
      continue;
    }
    const length = item.payload.length;
    const cuts = item.cuts.map((cut) => cut % (length + 1)).sort((a, b) => a - b);
    const bounds = [0, ...cuts, length];
    const fragments = bounds.slice(1).map((end, i) => item.payload.subarray(bounds[i]!, end));
    fragments.forEach((fragment, i) => {
      const last = i === fragments.length - 1;
      write(last, i === 0 ? (item.isBinary ? 0x2 : 0x1) : 0x0, fragment);
      const between = item.pingAfter[i];
      if (!last && between) ping(between);
    });
    expected.events.push({ type: 'message', data: Buffer.from(item.payload).toString('hex'), isBinary: item.isBinary });
  }
  return { bytes: concatOwn(chunks), expected };
}

function splitAtCuts(bytes: Buffer, rawCuts: readonly number[]): Buffer[] {
  if (bytes.length === 0) return [];
  const cuts = [...new Set(rawCuts.map((cut) => cut % bytes.length))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const end of [...cuts, bytes.length]) {
    if (end > start) pieces.push(ownCopy(bytes.subarray(start, end)));
    start = end;
  }
  return pieces;
}

function observed(h: ConnectionHarness): Expected {
  return {
    events: h.events.flatMap((event) => {
      if (event.type === 'message') return [{ type: 'message', data: event.data.toString('hex'), isBinary: event.isBinary }];
      if (event.type === 'ping') return [{ type: 'ping', data: event.data.toString('hex') }];
      return [];
    }),
    pongs: h.writtenFrames().map((wire) => {
      assert.equal(wire.opcode, 0xa);
      assert.equal(wire.maskKey, null, 'a server never masks');
      return wire.payload.toString('hex');
    }),
  };
}

describe('Connection properties', () => {
  it('server reports exactly the messages and pings a client wrote, for any split of the stream (property)', () => {
    fc.assert(
      fc.property(fc.array(itemArbitrary(binaryBytes), { maxLength: 8 }), maskKeys, fc.array(fc.nat(), { maxLength: 20 }), (items, keys, cuts) => {
        const { bytes, expected } = encodeItems(items, keys);
        const h = server();
        h.feed(...splitAtCuts(bytes, cuts));
        assert.deepEqual(observed(h), expected);
        assert.equal(h.connection.state, ConnectionState.OPEN);
      }),
      { numRuns: 150 },
    );
  });

  it('server reports the same messages when the stream arrives one byte at a time (property)', () => {
    fc.assert(
      fc.property(fc.array(itemArbitrary(smallBinaryBytes), { maxLength: 5 }), maskKeys, (items, keys) => {
        const { bytes, expected } = encodeItems(items, keys);
        const h = server();
        for (let i = 0; i < bytes.length; i++) h.feed(ownCopy(bytes.subarray(i, i + 1)));
        assert.deepEqual(observed(h), expected);
      }),
      { numRuns: 60 },
    );
  });

  it('server never throws on garbage after any valid prefix, and a failure ends with one close frame 1002/1007/1009 (property)', () => {
    // frames that are well formed on the wire but break rules: any opcode, fin, reserved bits,
    // bytes that may not be UTF-8, declared lengths past the limit, too many fragments
    const ruleBreakingFrame = fc
      .record({
        fin: fc.boolean(),
        rsv: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(0x10, 0x20, 0x40) }),
        opcode: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(0x0, 0x1, 0x2) }, { weight: 2, arbitrary: fc.constantFrom(0x8, 0x9, 0xa) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) }),
        payload: fc.oneof(fc.uint8Array({ maxLength: 8 }), textBytes),
        declaredLength: fc.option(fc.integer({ min: 990, max: 70000 }), { nil: undefined, freq: 6 }),
        maskKey: fc.uint8Array({ minLength: 4, maxLength: 4 }),
      })
      .map((spec) => frame(spec));
    const garbage = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 40 }),
      fc.array(ruleBreakingFrame, { minLength: 1, maxLength: 12 }).map((frames) => concatOwn(frames)),
      // a valid client stream with a few bytes overwritten: reaches deeper states than pure noise
      fc
        .tuple(fc.array(itemArbitrary(smallBinaryBytes), { minLength: 1, maxLength: 3 }), maskKeys, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
        .map(([items, keys, edits]) => {
          const bytes = encodeItems(items, keys).bytes;
          for (const [at, value] of edits) if (bytes.length > 0) bytes[at % bytes.length] = value;
          return bytes;
        }),
    );
    fc.assert(
      fc.property(
        fc.array(itemArbitrary(smallBinaryBytes), { maxLength: 3 }),
        maskKeys,
        garbage,
        fc.array(fc.nat(), { maxLength: 10 }),
        (items, keys, noise, cuts) => {
          const prefix = encodeItems(items, keys).bytes;
          const h = server({ limits: { maxMessageBytes: 1000, maxFragmentsPerMessage: 8 } });
          const trailer = fromClient({ opcode: 0x1, payload: 'after' });
          assert.doesNotThrow(() => h.feed(...splitAtCuts(concatOwn([prefix, noise]), cuts), trailer));

          const types = h.allTypes;
          const closeFrames = h.writtenFrames().filter((wire) => wire.opcode === 0x8);
          const failureAt = types.indexOf('failure');
          if (failureAt === -1) {
            assert.equal(closeFrames.length, h.of('closeFrame').length, 'a close frame is written only to answer one');
            return;
          }
          assert.deepEqual(types.slice(failureAt), ['failure', 'end'], 'nothing after the failure but end');
          const lastWrite = types.lastIndexOf('write');
          assert.ok(lastWrite < failureAt, 'no write after the failure');
          assert.equal(closeFrames.length, 1, 'exactly one close frame');
          const frames = h.writtenFrames();
          assert.equal(frames[frames.length - 1]!.opcode, 0x8, 'the close frame is the last frame written');
          const code = closeCodeOf(closeFrames[0]!);
          assert.ok([1002, 1007, 1009].includes(code), `close code ${code}`);
          assert.equal(h.failure.closeCode, code);
          assert.equal(h.of('closeFrame').length, 0);
        },
      ),
      { numRuns: 400 },
    );
  });
});
