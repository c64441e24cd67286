import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameParser, type FrameSink } from '../../src/protocol/frame-parser.js';
import { LimitExceededError, PeerError } from '../../src/protocol/errors.js';
import { concatOwn, frame, hex, ownCopy } from './connection-harness.js';

type SinkEvent =
  | { type: 'header'; fin: boolean; rsv: number; opcode: number; payloadLength: number }
  | { type: 'payload'; payload: Buffer; view: Buffer }
  | { type: 'error'; error: PeerError | LimitExceededError };

/** Records what the parser reports; `answer` decides what each callback returns (true: go on). */
class RecordingSink implements FrameSink {
  readonly events: SinkEvent[] = [];
  answerHeader: (event: SinkEvent) => boolean = () => true;
  answerPayload: (event: SinkEvent) => boolean = () => true;

  onFrameHeader(fin: boolean, rsv: number, opcode: number, payloadLength: number): boolean {
    const event: SinkEvent = { type: 'header', fin, rsv, opcode, payloadLength };
    this.events.push(event);
    return this.answerHeader(event);
  }

  onFramePayload(payload: Buffer): boolean {
    const event: SinkEvent = { type: 'payload', payload: Buffer.from(payload), view: payload };
    this.events.push(event);
    return this.answerPayload(event);
  }

  /** Pieces of payloads spanning reads, kept apart from `events` (their split depends on the reads). */
  readonly parts: Buffer[] = [];
  onFramePayloadPart(data: Buffer, start: number, end: number): boolean {
    this.parts.push(Buffer.from(data.subarray(start, end)));
    return true;
  }

  onFrameError(error: PeerError | LimitExceededError): void {
    this.events.push({ type: 'error', error });
  }

  get payloads(): string[] {
    return this.events.flatMap((event) => (event.type === 'payload' ? [event.payload.toString('latin1')] : []));
  }

  get headers(): Extract<SinkEvent, { type: 'header' }>[] {
    return this.events.filter((event): event is Extract<SinkEvent, { type: 'header' }> => event.type === 'header');
  }

  get error(): PeerError | LimitExceededError {
    const errors = this.events.filter((event) => event.type === 'error');
    assert.equal(errors.length, 1, 'expected exactly one error');
    return (errors[0] as Extract<SinkEvent, { type: 'error' }>).error;
  }
}

function parserFor(role: 'server' | 'client'): { parser: FrameParser; sink: RecordingSink } {
  const sink = new RecordingSink();
  return { parser: new FrameParser(sink, role === 'server'), sink };
}

/** Feeds `bytes` cut at `cuts` (offsets), each piece in a buffer of its own. */
function feedSplit(parser: FrameParser, bytes: Uint8Array, cuts: readonly number[]): void {
  let start = 0;
  for (const end of [...cuts, bytes.length]) {
    if (end > start) parser.push(ownCopy(bytes.subarray(start, end)));
    start = end;
  }
}

function assertPeerError(error: PeerError | LimitExceededError, closeCode: number, pattern?: RegExp): void {
  assert.equal(error.closeCode, closeCode);
  if (pattern) assert.match(error.message, pattern);
}

const KEY = hex('37 fa 21 3d');

describe('FrameParser length encodings', () => {
  for (const length of [0, 1, 125, 126, 127, 65535, 65536]) {
    it(`server parses a masked ${length}-byte frame whole`, () => {
      const payload = Buffer.alloc(length);
      for (let i = 0; i < length; i++) payload[i] = (i * 7) & 0xff;
      const { parser, sink } = parserFor('server');
      parser.push(frame({ opcode: 0x2, payload, maskKey: KEY }));
      assert.equal(sink.events.length, 2);
      assert.deepEqual(sink.events[0], { type: 'header', fin: true, rsv: 0, opcode: 2, payloadLength: length });
      assert.deepEqual((sink.events[1] as Extract<SinkEvent, { type: 'payload' }>).payload, payload);
    });
  }

  it('client reads a 64-bit length beyond 2^32 from the header', () => {
    const { parser, sink } = parserFor('client');
    parser.push(hex('82 7f 00 00 00 01 00 00 00 05'));
    assert.deepEqual(sink.events, [{ type: 'header', fin: true, rsv: 0, opcode: 2, payloadLength: 2 ** 32 + 5 }]);
  });

  it('client reads the largest safe 64-bit length (2^53 - 1)', () => {
    const { parser, sink } = parserFor('client');
    parser.push(hex('82 7f 00 1f ff ff ff ff ff ff'));
    assert.deepEqual(sink.events, [{ type: 'header', fin: true, rsv: 0, opcode: 2, payloadLength: Number.MAX_SAFE_INTEGER }]);
  });

  it('client fails with 1009 on a 64-bit length of 2^53 and stops', () => {
    const { parser, sink } = parserFor('client');
    parser.push(hex('82 7f 00 20 00 00 00 00 00 00 81 00'));
    assert.ok(sink.error instanceof LimitExceededError);
    assertPeerError(sink.error, 1009);
    assert.equal(sink.events.length, 1);
    assert.equal(parser.isStopped, true);
  });

  it('client fails with 1002 on a 64-bit length with the top bit set (RFC 6455 §5.2)', () => {
    const { parser, sink } = parserFor('client');
    parser.push(hex('82 7f 80 00 00 00 00 00 00 01 00'));
    assert.ok(sink.error instanceof PeerError);
    assertPeerError(sink.error, 1002, /top bit/);
    assert.equal(sink.events.length, 1);
    assert.equal(parser.isStopped, true);
  });

  it('server fails with 1002 on the top bit even when the header arrives byte by byte', () => {
    const { parser, sink } = parserFor('server');
    const bytes = hex('82 ff ff ff ff ff ff ff ff ff 01 02 03 04');
    feedSplit(parser, bytes, Array.from({ length: bytes.length }, (_, i) => i));
    assertPeerError(sink.error, 1002);
  });

  it('server accepts a non-minimal length encoding (5 bytes in 16 and in 64 bits)', () => {
    const { parser, sink } = parserFor('server');
    parser.push(hex('82 fe 00 05 00 00 00 00 61 62 63 64 65'));
    parser.push(hex('82 ff 00 00 00 00 00 00 00 05 00 00 00 00 66 67 68 69 6a'));
    assert.deepEqual(sink.payloads, ['abcde', 'fghij']);
  });
});

describe('FrameParser splits and coalescing', () => {
  for (const [name, payloadLength] of [
    ['7-bit', 5],
    ['16-bit', 300],
    ['64-bit', 65536],
  ] as const) {
    it(`server parses a masked ${name}-length frame split at every header byte and around the payload`, () => {
      const payload = Buffer.alloc(payloadLength);
      for (let i = 0; i < payloadLength; i++) payload[i] = (i * 31 + 5) & 0xff;
      const bytes = concatOwn([frame({ opcode: 0x2, payload, maskKey: KEY }), frame({ opcode: 0x9, payload: 'p', maskKey: KEY })]);
      const headerLength = payloadLength < 126 ? 6 : payloadLength < 65536 ? 8 : 14;
      const cutPoints = [...Array.from({ length: headerLength + 2 }, (_, i) => i), headerLength + 3, bytes.length - 8, bytes.length - 1];
      for (const cut of cutPoints) {
        const { parser, sink } = parserFor('server');
        feedSplit(parser, bytes, [cut]);
        assert.equal(sink.events.length, 4, `cut at ${cut}`);
        assert.deepEqual((sink.events[1] as Extract<SinkEvent, { type: 'payload' }>).payload, payload, `cut at ${cut}`);
        assert.equal(sink.payloads[1], 'p', `cut at ${cut}`);
      }
    });
  }

  it('client parses two coalesced frames and an empty one from one read', () => {
    const { parser, sink } = parserFor('client');
    parser.push(hex('81 02 68 69 82 00 89 01 78'));
    assert.deepEqual(
      sink.events.map((event) => (event.type === 'header' ? `h${event.opcode}:${event.payloadLength}` : event.type)),
      ['h1:2', 'payload', 'h2:0', 'payload', 'h9:1', 'payload'],
    );
    assert.deepEqual(sink.payloads, ['hi', '', 'x']);
  });

  it('server delivers a payload inside one read as an unmasked view of that read (zero copy)', () => {
    const { parser, sink } = parserFor('server');
    const chunk = concatOwn([hex('00 00'), frame({ opcode: 0x1, payload: 'Hello', maskKey: KEY })]).subarray(2);
    parser.push(chunk);
    const delivered = (sink.events[1] as Extract<SinkEvent, { type: 'payload' }>).view;
    assert.equal(delivered.buffer, chunk.buffer);
    assert.equal(delivered.byteOffset, chunk.byteOffset + 6);
    assert.equal(delivered.toString(), 'Hello');
    assert.equal(chunk.subarray(6).toString(), 'Hello', 'unmasked in place');
  });

  it('client delivers a payload at the end of a coalesced read as a view of that read', () => {
    const { parser, sink } = parserFor('client');
    const chunk = hex('81 02 68 69 82 03 01 02 03');
    parser.push(chunk);
    const last = sink.events[3] as Extract<SinkEvent, { type: 'payload' }>;
    assert.equal(last.view.buffer, chunk.buffer);
    assert.equal(last.view.byteOffset, chunk.byteOffset + 6);
  });

  it('server gathers a payload spanning reads into a buffer of its own', () => {
    const bytes = frame({ opcode: 0x2, payload: Buffer.alloc(1000, 9), maskKey: KEY });
    const pieces = [ownCopy(bytes.subarray(0, 300)), ownCopy(bytes.subarray(300, 700)), ownCopy(bytes.subarray(700))];
    const { parser, sink } = parserFor('server');
    for (const piece of pieces) parser.push(piece);
    const delivered = (sink.events[1] as Extract<SinkEvent, { type: 'payload' }>).view;
    assert.deepEqual(delivered, Buffer.alloc(1000, 9));
    for (const piece of pieces) assert.notEqual(delivered.buffer, piece.buffer);
  });

  it('server reports the unmasked pieces of a payload spanning reads as they arrive, before the whole', () => {
    const payload = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const bytes = frame({ opcode: 0x1, payload, maskKey: KEY });
    const { parser, sink } = parserFor('server');
    parser.push(ownCopy(bytes.subarray(0, 300)));
    assert.equal(sink.events.length, 1, 'only the header so far');
    assert.deepEqual(Buffer.concat(sink.parts), payload.subarray(0, 300 - 8)); // 8 header bytes: 2 + 16-bit length + mask key
    parser.push(ownCopy(bytes.subarray(300)));
    assert.deepEqual(Buffer.concat(sink.parts), payload);
  });

  it('any split of a frame sequence gives the same headers and payloads (property)', () => {
    const frameSpec = fc.record({
      fin: fc.boolean(),
      opcode: fc.constantFrom(0x0, 0x1, 0x2),
      payload: fc.oneof(fc.uint8Array({ maxLength: 140 }), fc.integer({ min: 0, max: 70000 }).map((n) => new Uint8Array(n).fill(n & 0xff))),
      maskKey: fc.uint8Array({ minLength: 4, maxLength: 4 }),
    });
    fc.assert(
      fc.property(fc.array(frameSpec, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), (specs, rawCuts) => {
        const bytes = concatOwn(specs.map((spec) => frame(spec)));
        const cuts = [...new Set(rawCuts.map((cut) => cut % bytes.length))].sort((a, b) => a - b);
        const { parser, sink } = parserFor('server');
        feedSplit(parser, bytes, cuts);
        const expected = specs.flatMap((spec) => [
          { type: 'header', fin: spec.fin, rsv: 0, opcode: spec.opcode, payloadLength: spec.payload.length },
          Buffer.from(spec.payload).toString('latin1'),
        ]);
        const actual = sink.events.map((event) => (event.type === 'payload' ? event.payload.toString('latin1') : event));
        assert.deepEqual(actual, expected);
      }),
      { numRuns: 150 },
    );
  });

  it('server gives the same frames fed one byte at a time', () => {
    const bytes = concatOwn([
      frame({ opcode: 0x1, fin: false, payload: 'ab', maskKey: KEY }),
      frame({ opcode: 0x9, payload: '', maskKey: KEY }),
      frame({ opcode: 0x0, payload: Buffer.alloc(200, 0x41), maskKey: KEY }),
    ]);
    const { parser, sink } = parserFor('server');
    feedSplit(parser, bytes, Array.from({ length: bytes.length }, (_, i) => i));
    assert.deepEqual(sink.payloads, ['ab', '', 'A'.repeat(200)]);
  });
});

describe('FrameParser pause, resume and stop', () => {
  it('client pauses when the payload callback returns false and keeps later reads in order', () => {
    const { parser, sink } = parserFor('client');
    sink.answerPayload = (event) => (event as Extract<SinkEvent, { type: 'payload' }>).payload.toString() !== 'a';
    parser.push(hex('81 01 61 81 01 62 81'));
    assert.deepEqual(sink.payloads, ['a']);
    parser.push(hex('01 63'));
    parser.push(hex('81 01 64'));
    assert.deepEqual(sink.payloads, ['a']);
    assert.equal(parser.backlogBytes, 4 + 2 + 3);
    sink.answerPayload = () => true;
    parser.resume();
    assert.deepEqual(sink.payloads, ['a', 'b', 'c', 'd']);
    assert.equal(parser.backlogBytes, 0);
  });

  it('client pauses on request between reads and resumes where it stopped', () => {
    const { parser, sink } = parserFor('client');
    parser.push(hex('81 03 61'));
    parser.pause();
    parser.push(hex('62 63 81 01 64'));
    assert.deepEqual(sink.payloads, []);
    parser.resume();
    assert.deepEqual(sink.payloads, ['abc', 'd']);
  });

  it('client resumed inside a callback goes on in order (re-entrant resume)', () => {
    const { parser, sink } = parserFor('client');
    let first = true;
    sink.answerPayload = () => {
      if (first) {
        first = false;
        parser.pause();
        parser.push(hex('81 01 7a'));
        parser.resume();
      }
      return true;
    };
    parser.push(hex('81 01 61 81 01 62'));
    assert.deepEqual(sink.payloads, ['a', 'b', 'z']);
  });

  it('client parser resumed without a pause goes on as normal', () => {
    const { parser, sink } = parserFor('client');
    parser.resume();
    parser.push(hex('81 01 61'));
    assert.deepEqual(sink.payloads, ['a']);
  });

  it('client stop discards the backlog and every later read', () => {
    const { parser, sink } = parserFor('client');
    sink.answerPayload = () => false;
    parser.push(hex('81 01 61 81 01 62'));
    parser.push(hex('81 01 63'));
    parser.stop();
    assert.equal(parser.isStopped, true);
    assert.equal(parser.backlogBytes, 0);
    parser.resume();
    parser.push(hex('81 01 64'));
    assert.deepEqual(sink.payloads, ['a']);
  });

  it('client stops when the header callback refuses the frame and delivers no payload', () => {
    const { parser, sink } = parserFor('client');
    sink.answerHeader = () => false;
    parser.push(hex('81 01 61 81 01 62'));
    assert.equal(sink.events.length, 1);
    assert.equal(parser.isStopped, true);
  });

  it('client stopped while a payload is half gathered ignores its rest', () => {
    const { parser, sink } = parserFor('client');
    parser.push(hex('82 04 01 02'));
    parser.stop();
    parser.push(hex('03 04 81 01 61'));
    assert.equal(sink.payloads.length, 0);
  });
});

describe('FrameParser faults', () => {
  it('server fails with 1002 on an unmasked frame (RFC 6455 §5.1)', () => {
    const { parser, sink } = parserFor('server');
    parser.push(hex('81 02 68 69 81 02 68 69'));
    assertPeerError(sink.error, 1002, /not masked/);
    assert.equal(sink.events.length, 1, 'no header, no payload');
    assert.equal(parser.isStopped, true);
  });

  it('client fails with 1002 on a masked frame (RFC 6455 §5.1)', () => {
    const { parser, sink } = parserFor('client');
    parser.push(hex('81 82 00 00 00 00 68 69'));
    assertPeerError(sink.error, 1002, /masked/);
    assert.equal(sink.events.length, 1);
  });

  for (const opcode of [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    it(`client fails with 1002 on reserved opcode ${opcode.toString(16)}`, () => {
      const { parser, sink } = parserFor('client');
      parser.push(frame({ opcode, payload: 'x' }));
      assertPeerError(sink.error, 1002, /reserved opcode/);
      assert.equal(sink.events.length, 1);
    });
  }

  for (const opcode of [0x8, 0x9, 0xa]) {
    it(`server fails with 1002 on control opcode ${opcode.toString(16)} with a 126-byte payload (RFC 6455 §5.5)`, () => {
      const { parser, sink } = parserFor('server');
      parser.push(frame({ opcode, payload: Buffer.alloc(126), maskKey: KEY }));
      assertPeerError(sink.error, 1002, /125/);
      assert.equal(sink.events.length, 1);
    });

    it(`server fails with 1002 on a fragmented control opcode ${opcode.toString(16)} (RFC 6455 §5.5)`, () => {
      const { parser, sink } = parserFor('server');
      parser.push(frame({ opcode, fin: false, payload: 'x', maskKey: KEY }));
      assertPeerError(sink.error, 1002, /fragmented/);
      assert.equal(sink.events.length, 1);
    });
  }

  it('server accepts a control frame of exactly 125 bytes', () => {
    const { parser, sink } = parserFor('server');
    parser.push(frame({ opcode: 0x9, payload: Buffer.alloc(125, 0x61), maskKey: KEY }));
    assert.deepEqual(sink.payloads, ['a'.repeat(125)]);
  });

  it('server reports the reserved bits to the sink without judging them', () => {
    const { parser, sink } = parserFor('server');
    parser.push(frame({ opcode: 0x1, rsv: 0x70, payload: 'x', maskKey: KEY }));
    assert.equal(sink.headers[0]!.rsv, 0x70);
  });

  it('server fails once and reports nothing after a fault in a later frame of the same read', () => {
    const { parser, sink } = parserFor('server');
    parser.push(concatOwn([frame({ opcode: 0x1, payload: 'ok', maskKey: KEY }), hex('83 80 00 00 00 00'), frame({ opcode: 0x1, payload: 'late', maskKey: KEY })]));
    assert.deepEqual(
      sink.events.map((event) => event.type),
      ['header', 'payload', 'error'],
    );
  });
});
