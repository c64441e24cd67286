import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { msgpackCodec, protobufCodec } from '../../src/codecs/index.js';
import { jsonCodec, type Codec } from '../../src/realtime/codec.js';
import {
  decodeClientFrame,
  decodePresenceMembers,
  decodePublishResult,
  decodeServerFrame,
  decodeSubscribeResult,
} from '../../src/realtime/envelope-decoder.js';
import { EnvelopeLimits } from '../../src/realtime/envelope-limits.js';
import { binaryValueArb, clientFrameArb, everyFrame, jsonValueArb, serverFrameArb } from './envelope-arbitraries.js';

type Fields = Record<string, unknown>;

const MISSING = Symbol('missing');
const BAD_INTEGERS: unknown[] = [-1, 1.5, '1', Number.NaN, Infinity, 2 ** 53, null, true, MISSING];
const BAD_NAMES: unknown[] = ['', 'x'.repeat(EnvelopeLimits.maxNameLength + 1), 5, null, ['a'], MISSING];
const BAD_CHANNELS: unknown[] = ['', 'x'.repeat(EnvelopeLimits.maxChannelNameLength + 1), 5, null, 'a\u0000b', 'a\u007f', 'a\u0085', 'a\ud800', MISSING];
const BAD_ERROR_INFOS: unknown[] = ['x', [], null, { message: 'm' }, { code: '', message: 'm' }, { code: 'X' }, { code: 'X', message: 5 }, MISSING];
const BAD_MEMBERS: unknown[] = ['x', null, {}, { clientId: '' }, { clientId: 'c', userId: 5 }, { clientId: 'c', userId: '' }, MISSING];

/** `frame` with `field` set to `value` (or removed for MISSING). */
function withField(frame: object, field: string, value: unknown): Fields {
  const copy: Fields = { ...frame };
  if (value === MISSING) delete copy[field];
  else copy[field] = value;
  return copy;
}

const client = everyFrame({ text: 'hi' }).client;
const server = everyFrame({ text: 'hi' }).server;

describe('decodeClientFrame', () => {
  it('accepts every client frame type unchanged', () => {
    const types = new Set<string>();
    for (const frame of client) {
      assert.deepEqual(decodeClientFrame(frame), { ok: true, frame });
      types.add(frame.t);
    }
    assert.deepEqual([...types].sort(), ['cancel', 'error', 'ping', 'presence', 'pub', 'result', 'rpc', 'sub', 'unsub']);
  });

  it('ignores extra fields and copies only known ones', () => {
    const decoded = decodeClientFrame({ t: 'unsub', id: 1, channel: 'a', extra: 1, __proto__x: 2 });
    assert.deepEqual(decoded, { ok: true, frame: { t: 'unsub', id: 1, channel: 'a' } });
    const since = decodeClientFrame({ t: 'sub', id: 1, channel: 'a', since: { epoch: 'e', offset: 0, more: true } });
    assert.deepEqual(since, { ok: true, frame: { t: 'sub', id: 1, channel: 'a', since: { epoch: 'e', offset: 0 } } });
  });

  it('reads null optional fields as absent, and missing application values as undefined', () => {
    assert.deepEqual(decodeClientFrame({ t: 'sub', id: 1, channel: 'a', since: null, presence: null }), {
      ok: true,
      frame: { t: 'sub', id: 1, channel: 'a' },
    });
    assert.deepEqual(decodeClientFrame({ t: 'pub', id: 1, channel: 'a', pid: 'p' }), {
      ok: true,
      frame: { t: 'pub', id: 1, channel: 'a', pid: 'p', data: undefined },
    });
    assert.deepEqual(decodeClientFrame({ t: 'rpc', id: 1, method: 'm', params: null }), {
      ok: true,
      frame: { t: 'rpc', id: 1, method: 'm', params: null },
    });
  });

  it('accepts values at the bounds: 2^53-1, 256-character names and channels', () => {
    const id = EnvelopeLimits.maxInteger;
    const channel = 'c'.repeat(EnvelopeLimits.maxChannelNameLength);
    const pid = 'p'.repeat(EnvelopeLimits.maxNameLength);
    const frame = { t: 'pub', id, channel, pid, data: 1 };
    assert.deepEqual(decodeClientFrame(frame), { ok: true, frame });
    assert.equal(decodeClientFrame({ t: 'sub', id: 0, channel: 'room 😀 é' }).ok, true);
  });

  it('rejects a frame that is not an object, with no id', () => {
    for (const value of [undefined, null, 5, 'ping', true, [], [{ t: 'ping' }], new Uint8Array(2)]) {
      const decoded = decodeClientFrame(value);
      assert.equal(decoded.ok, false, String(value));
      assert.equal(!decoded.ok && decoded.id, undefined);
    }
  });

  it('rejects an unknown or missing type, with the id when it is readable', () => {
    for (const t of ['nope', 'hello', 'pong', 'unsubscribed', 5, null, MISSING]) {
      const decoded = decodeClientFrame(withField({ id: 12 }, 't', t));
      assert.equal(decoded.ok, false);
      assert.equal(!decoded.ok && decoded.id, 12, String(t));
      assert.match(!decoded.ok ? decoded.reason : '', /frame type|t is missing/);
    }
    assert.deepEqual(decodeClientFrame({ t: 'nope', id: -1 }), { ok: false, id: undefined, reason: 'unknown frame type "nope"' });
  });

  it('rejects a bad id of every request without an id to answer', () => {
    for (const frame of client.filter((f) => 'id' in f)) {
      for (const id of BAD_INTEGERS) {
        const decoded = decodeClientFrame(withField(frame, 'id', id));
        assert.equal(decoded.ok, false, `${frame.t} id ${String(id)}`);
        assert.equal(!decoded.ok && decoded.id, undefined);
        assert.match(!decoded.ok ? decoded.reason : '', /^id /);
      }
    }
  });

  /** Each field of each request, with bad values: rejected, naming the field, with the request id. */
  const fieldCases: [frame: Fields, field: string, bad: unknown[]][] = [
    ...client.filter((f) => 'channel' in f).map((f): [Fields, string, unknown[]] => [f, 'channel', BAD_CHANNELS]),
    [{ t: 'sub', id: 9, channel: 'a' }, 'since', [5, 'x', [], { epoch: '', offset: 1 }, { epoch: 'e', offset: -1 }, { epoch: 'e' }, { epoch: 'e', offset: 1.5 }, { offset: 1 }]],
    [{ t: 'sub', id: 9, channel: 'a' }, 'presence', ['yes', 1, 0, {}]],
    [{ t: 'pub', id: 9, channel: 'a', pid: 'p', data: 1 }, 'pid', BAD_NAMES],
    [{ t: 'rpc', id: 9, method: 'm', params: 1 }, 'method', BAD_NAMES],
  ];
  it('rejects every bad field of a request and returns its id for a BAD_REQUEST reply', () => {
    for (const [frame, field, bads] of fieldCases) {
      for (const bad of bads) {
        const decoded = decodeClientFrame(withField(frame, field, bad));
        assert.equal(decoded.ok, false, `${String(frame.t)}.${field} = ${String(bad)}`);
        assert.equal(!decoded.ok && decoded.id, frame.id);
        assert.match(!decoded.ok ? decoded.reason : '', new RegExp(`^${field}`));
      }
    }
  });

  it('rejects a malformed answer (result/error) without an id: its id is in the server\'s id space', () => {
    for (const bad of BAD_ERROR_INFOS) {
      const decoded = decodeClientFrame(withField({ t: 'error', id: 4 }, 'error', bad));
      assert.equal(decoded.ok, false, JSON.stringify(bad));
      assert.equal(!decoded.ok && decoded.id, undefined);
      assert.match(!decoded.ok ? decoded.reason : '', /^error/);
    }
    assert.deepEqual(decodeClientFrame({ t: 'result', id: 1.5 }), {
      ok: false,
      id: undefined,
      reason: 'id must be an integer in 0..9007199254740991, got 1.5',
    });
  });

  it('says which field is wrong, and what it got', () => {
    assert.deepEqual(decodeClientFrame({ t: 'sub', id: 3, channel: 'a', since: { epoch: 'e', offset: '7' } }), {
      ok: false,
      id: 3,
      reason: 'since.offset must be an integer in 0..9007199254740991, got "7"',
    });
    assert.deepEqual(decodeClientFrame({ t: 'pub', id: 3, channel: 'a' }), { ok: false, id: 3, reason: 'pid is missing' });
    assert.deepEqual(decodeClientFrame({ t: 'unsub', id: 3, channel: 'x'.repeat(300) }), {
      ok: false,
      id: 3,
      reason: 'channel must be at most 256 characters (got 300)',
    });
  });
});

describe('decodeServerFrame', () => {
  it('accepts every server frame type unchanged', () => {
    const types = new Set<string>();
    for (const frame of server) {
      assert.deepEqual(decodeServerFrame(frame), { ok: true, frame });
      types.add(frame.t);
    }
    assert.deepEqual([...types].sort(), ['cancel', 'error', 'hello', 'join', 'leave', 'pong', 'pub', 'result', 'rpc', 'unsubscribed']);
  });

  it('ignores extra fields, reads null userId as absent and keeps null info', () => {
    const decoded = decodeServerFrame({ t: 'join', channel: 'a', member: { clientId: 'c', userId: null, info: null, x: 1 }, y: 2 });
    assert.deepEqual(decoded, { ok: true, frame: { t: 'join', channel: 'a', member: { clientId: 'c', info: null } } });
  });

  const fieldCases: [frame: Fields, field: string, bad: unknown[]][] = [
    [{ t: 'hello', version: 1, session: 's', heartbeatMs: 0 }, 'version', BAD_INTEGERS],
    [{ t: 'hello', version: 1, session: 's', heartbeatMs: 0 }, 'session', BAD_NAMES],
    [{ t: 'hello', version: 1, session: 's', heartbeatMs: 0 }, 'heartbeatMs', BAD_INTEGERS],
    [{ t: 'pub', channel: 'a', epoch: 'e', offset: 1, data: 1 }, 'channel', BAD_CHANNELS],
    [{ t: 'pub', channel: 'a', epoch: 'e', offset: 1, data: 1 }, 'epoch', BAD_NAMES],
    [{ t: 'pub', channel: 'a', epoch: 'e', offset: 1, data: 1 }, 'offset', BAD_INTEGERS],
    [{ t: 'result', id: 1, result: 1 }, 'id', BAD_INTEGERS],
    [{ t: 'error', id: 1, error: { code: 'X', message: '' } }, 'id', BAD_INTEGERS],
    [{ t: 'error', id: 1, error: { code: 'X', message: '' } }, 'error', BAD_ERROR_INFOS],
    [{ t: 'join', channel: 'a', member: { clientId: 'c' } }, 'channel', BAD_CHANNELS],
    [{ t: 'join', channel: 'a', member: { clientId: 'c' } }, 'member', BAD_MEMBERS],
    [{ t: 'leave', channel: 'a', member: { clientId: 'c' } }, 'member', BAD_MEMBERS],
    [{ t: 'rpc', id: 1, method: 'm', params: 1 }, 'id', BAD_INTEGERS],
    [{ t: 'rpc', id: 1, method: 'm', params: 1 }, 'method', BAD_NAMES],
    [{ t: 'cancel', id: 1 }, 'id', BAD_INTEGERS],
    [{ t: 'unsubscribed', channel: 'a', reason: { code: 'X', message: '' } }, 'channel', BAD_CHANNELS],
    [{ t: 'unsubscribed', channel: 'a', reason: { code: 'X', message: '' } }, 'reason', BAD_ERROR_INFOS],
    [{ t: 'pong' }, 't', ['ping', 'sub', 'PONG', 1, MISSING]],
  ];
  it('rejects every bad field of every frame type, naming the field', () => {
    for (const [frame, field, bads] of fieldCases) {
      assert.equal(decodeServerFrame(frame).ok, true, JSON.stringify(frame));
      for (const bad of bads) {
        const decoded = decodeServerFrame(withField(frame, field, bad));
        assert.equal(decoded.ok, false, `${String(frame.t)}.${field} = ${String(bad)}`);
        if (field !== 't') assert.match(!decoded.ok ? decoded.reason : '', new RegExp(`^${field}`));
      }
    }
  });
});

describe('result decoders', () => {
  const publication = { t: 'pub', channel: 'a', epoch: 'e', offset: 3, data: { x: 1 } };

  it('decodeSubscribeResult accepts a result with and without members', () => {
    const result = { epoch: 'e', offset: 3, recovered: true, publications: [publication] };
    assert.deepEqual(decodeSubscribeResult(result), { ok: true, result });
    const withMembers = { ...result, recovered: false, publications: [], members: [{ clientId: 'c', userId: 'u' }] };
    assert.deepEqual(decodeSubscribeResult(withMembers), { ok: true, result: withMembers });
  });

  it('decodeSubscribeResult rejects bad fields', () => {
    const good = { epoch: 'e', offset: 3, recovered: true, publications: [] };
    for (const bad of [
      null, [], { ...good, epoch: '' }, { ...good, offset: -1 }, { ...good, recovered: 'yes' }, { ...good, publications: {} },
      { ...good, publications: [{ ...publication, t: 'x' }] }, { ...good, publications: [{ ...publication, offset: 1.5 }] },
      { ...good, members: [{}] },
    ]) {
      assert.equal(decodeSubscribeResult(bad).ok, false, JSON.stringify(bad));
    }
    assert.deepEqual(decodeSubscribeResult({ ...good, publications: [publication, { ...publication, channel: '' }] }), {
      ok: false,
      reason: 'result.publications[1].channel must not be empty',
    });
  });

  it('decodePublishResult and decodePresenceMembers check their shapes', () => {
    assert.deepEqual(decodePublishResult({ epoch: 'e', offset: 7, extra: 1 }), { ok: true, result: { epoch: 'e', offset: 7 } });
    assert.equal(decodePublishResult({ epoch: 'e' }).ok, false);
    assert.equal(decodePublishResult(undefined).ok, false);
    assert.deepEqual(decodePresenceMembers([{ clientId: 'a', info: 1 }, { clientId: 'b' }]), {
      ok: true,
      result: [{ clientId: 'a', info: 1 }, { clientId: 'b' }],
    });
    assert.equal(decodePresenceMembers([{ clientId: 5 }]).ok, false);
    assert.equal(decodePresenceMembers({}).ok, false);
  });
});

describe('decoders under random input', () => {
  /** A valid frame with one field replaced by anything, or an arbitrary value. */
  const nearMiss = (frames: fc.Arbitrary<object>) =>
    fc.oneof(
      fc.anything(),
      fc.tuple(frames, fc.string({ maxLength: 12 }), fc.anything()).map(([frame, field, value]) => withField(frame, field, value)),
      fc.tuple(frames, fc.constantFrom('t', 'id', 'channel', 'since', 'error', 'member', 'reason', 'offset', 'epoch'), fc.anything()).map(
        ([frame, field, value]) => withField(frame, field, value),
      ),
    );

  it('never throws; a failed client frame has no id or a safe integer one', () => {
    fc.assert(
      fc.property(nearMiss(clientFrameArb(jsonValueArb)), (value) => {
        const decoded = decodeClientFrame(value);
        if (!decoded.ok) {
          assert.equal(typeof decoded.reason, 'string');
          assert.ok(decoded.id === undefined || (Number.isSafeInteger(decoded.id) && decoded.id >= 0));
        }
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(nearMiss(serverFrameArb(jsonValueArb)), (value) => {
        const decoded = decodeServerFrame(value);
        if (!decoded.ok) assert.equal(typeof decoded.reason, 'string');
      }),
      { numRuns: 2000 },
    );
  });

  const cases: [Codec, fc.Arbitrary<unknown>][] = [
    [jsonCodec, jsonValueArb],
    [msgpackCodec, binaryValueArb],
    [protobufCodec, binaryValueArb],
  ];
  for (const [codec, values] of cases) {
    it(`any valid frame round-trips through the ${codec.name} codec and the decoder unchanged`, () => {
      fc.assert(
        fc.property(clientFrameArb(values), (frame) => {
          assert.deepEqual(decodeClientFrame(codec.decode(codec.encode(frame))), { ok: true, frame });
        }),
        { numRuns: 500 },
      );
      fc.assert(
        fc.property(serverFrameArb(values), (frame) => {
          assert.deepEqual(decodeServerFrame(codec.decode(codec.encode(frame))), { ok: true, frame });
        }),
        { numRuns: 500 },
      );
    });
  }
});
