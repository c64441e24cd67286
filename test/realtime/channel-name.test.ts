import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { channelNameProblem, isChannelName } from '../../src/realtime/channel-name.js';
import { EnvelopeLimits } from '../../src/realtime/envelope-limits.js';

describe('channel names', () => {
  it('accepts printable Unicode names of 1..256 UTF-16 code units, spaces and emoji included', () => {
    for (const name of ['a', 'chat:lobby', 'room 42', 'événements', '房间', '😀', 'a\u200db', 'x'.repeat(EnvelopeLimits.maxChannelNameLength)]) {
      assert.equal(channelNameProblem(name), undefined, name);
      assert.equal(isChannelName(name), true);
    }
  });

  it('rejects non-strings, the empty name and names over 256 code units', () => {
    assert.equal(channelNameProblem(5), 'must be a string');
    assert.equal(channelNameProblem(''), 'must not be empty');
    assert.equal(channelNameProblem('x'.repeat(257)), 'must be at most 256 characters (got 257)');
    assert.equal(isChannelName('😀'.repeat(129)), false); // 258 code units
  });

  it('rejects C0 and C1 control characters, DEL and lone surrogates', () => {
    for (const code of [0x00, 0x09, 0x0a, 0x1f, 0x7f, 0x80, 0x9f]) {
      assert.equal(isChannelName(`a${String.fromCharCode(code)}b`), false, code.toString(16));
    }
    assert.equal(isChannelName('a\ud800'), false);
    assert.equal(isChannelName('\udc00a'), false);
  });

  it('agrees with its definition on any string (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: 'binary' }), (name) => {
        const expected = name.length >= 1 && name.length <= 256 && !/[\u0000-\u001f\u007f-\u009f]/.test(name);
        assert.equal(isChannelName(name), expected);
      }),
    );
  });
});
