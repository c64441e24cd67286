import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Utf8Validator, isValidUtf8 } from '../../src/protocol/utf8-validator.js';
import { hex } from './connection-harness.js';

const fatalDecoder = new TextDecoder('utf-8', { fatal: true });

/** Oracle 1: the WHATWG decoder in fatal mode accepts the bytes. */
function decodesStrictly(bytes: Uint8Array): boolean {
  try {
    fatalDecoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Oracle 2: decoding (with replacement) and re-encoding gives the same bytes back. */
function roundTrips(bytes: Uint8Array): boolean {
  const buffer = Buffer.from(bytes);
  return Buffer.from(buffer.toString('utf8'), 'utf8').equals(buffer);
}

/**
 * Every proper prefix (1 to 3 bytes) of the encoding of a Unicode scalar value, as a latin1 key.
 * A proper prefix never includes the last byte, which only carries the low 6 bits, so the
 * scalar values with those bits zero give them all.
 */
const PROPER_PREFIXES: ReadonlySet<string> = (() => {
  const prefixes = new Set<string>();
  for (let codePoint = 0x80; codePoint <= 0x10ffff; codePoint += 0x40) {
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue;
    const encoded = Buffer.from(String.fromCodePoint(codePoint), 'utf8');
    for (let length = 1; length < encoded.length; length++) prefixes.add(encoded.subarray(0, length).toString('latin1'));
  }
  return prefixes;
})();

/** Naive: the bytes are valid UTF-8 followed by at most a cut-short sequence, i.e. some continuation makes them valid. */
function prefixIsPossible(bytes: Uint8Array): boolean {
  for (let tail = 0; tail <= Math.min(3, bytes.length); tail++) {
    const head = bytes.subarray(0, bytes.length - tail);
    const rest = Buffer.from(bytes.subarray(bytes.length - tail)).toString('latin1');
    if ((tail === 0 || PROPER_PREFIXES.has(rest)) && decodesStrictly(head)) return true;
  }
  return false;
}

function splitAt(bytes: Uint8Array, rawCuts: readonly number[]): Uint8Array[] {
  const cuts = [...new Set(rawCuts.map((cut) => (bytes.length === 0 ? 0 : cut % (bytes.length + 1))))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const end of [...cuts, bytes.length]) {
    pieces.push(bytes.slice(start, end)); // empty pieces included on purpose
    start = end;
  }
  return pieces;
}

/** Feeds the pieces; returns each push() result and the final end(). */
function validate(pieces: readonly Uint8Array[]): { pushes: boolean[]; end: boolean } {
  const validator = new Utf8Validator();
  const pushes = pieces.map((piece) => validator.push(piece));
  return { pushes, end: validator.end() };
}

// Byte strings that reach the interesting corners: valid text of any plane, lone lead and
// continuation bytes, overlongs, surrogates, values past U+10FFFF, and random bytes.
const TRICKY = [0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x90, 0xa0, 0x9f, 0x8f, 0x41];
const fragment = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }).map((text) => new Uint8Array(Buffer.from(text, 'utf8'))) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...TRICKY), { maxLength: 4 }).map((bytes) => Uint8Array.from(bytes)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }) },
  // a valid sequence cut short
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 0x80, max: 0x10ffff }).filter((cp) => cp < 0xd800 || cp > 0xdfff), fc.nat())
      .map(([cp, n]) => {
        const encoded = Buffer.from(String.fromCodePoint(cp), 'utf8');
        return new Uint8Array(encoded.subarray(0, 1 + (n % (encoded.length - 1))));
      }),
  },
);
const byteString = fc.array(fragment, { maxLength: 8 }).map((parts) => Uint8Array.from(parts.flatMap((part) => [...part])));

describe('isValidUtf8', () => {
  it('accepts empty input, ASCII and text of every plane', () => {
    for (const text of ['', 'hello', 'héllo', '€', '中文', '😀', '\u{10ffff}', '\u0000']) {
      assert.equal(isValidUtf8(Buffer.from(text, 'utf8')), true, text);
    }
  });

  it('rejects overlongs, surrogates, values past U+10FFFF, bad leads and truncations', () => {
    for (const bad of ['c0 80', 'c1 bf', 'e0 80 80', 'e0 9f bf', 'f0 80 80 80', 'f0 8f bf bf', 'ed a0 80', 'ed bf bf', 'f4 90 80 80', 'f5 80 80 80', 'ff', '80', 'c2', 'e2 82', 'f0 9f 98']) {
      assert.equal(isValidUtf8(hex(bad)), false, bad);
    }
  });

  it('accepts the boundary values around the forbidden ranges', () => {
    for (const good of ['c2 80', 'df bf', 'e0 a0 80', 'ed 9f bf', 'ee 80 80', 'f0 90 80 80', 'f4 8f bf bf', '7f']) {
      assert.equal(isValidUtf8(hex(good)), true, good);
    }
  });
});

describe('Utf8Validator', () => {
  it('accepts a 4-byte character split at every position', () => {
    const bytes = hex('61 f0 9f 98 80 62');
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.deepEqual(validate([bytes.subarray(0, cut), bytes.subarray(cut)]), { pushes: [true, true], end: true }, `cut at ${cut}`);
    }
  });

  it('accepts a character fed one byte at a time', () => {
    const bytes = hex('e2 82 ac f4 8f bf bf');
    assert.deepEqual(validate([...bytes].map((byte) => Uint8Array.of(byte))).end, true);
  });

  it('fails at the piece carrying a bad continuation, not at the end', () => {
    const result = validate([hex('61 e0'), hex('80'), hex('62')]);
    assert.deepEqual(result, { pushes: [true, false, false], end: false });
  });

  it('fails at once on a lead byte that can never start a sequence', () => {
    assert.deepEqual(validate([hex('61 62 c0')]).pushes, [false]);
    assert.deepEqual(validate([hex('f5')]).pushes, [false]);
  });

  it('fails at the second byte of a surrogate (ED A0) and past U+10FFFF (F4 90)', () => {
    assert.deepEqual(validate([hex('ed'), hex('a0'), hex('80')]).pushes, [true, false, false]);
    assert.deepEqual(validate([hex('f4'), hex('90 80 80')]).pushes, [true, false]);
  });

  it('end() reports a message that stops inside a sequence, then starts afresh', () => {
    const validator = new Utf8Validator();
    assert.equal(validator.push(hex('61 e2 82')), true);
    assert.equal(validator.end(), false);
    assert.equal(validator.push(hex('80')), false, 'a fresh message cannot start with a continuation byte');
    validator.reset();
    assert.equal(validator.push(hex('e2 82 ac')), true);
    assert.equal(validator.end(), true);
  });

  it('stays failed until reset', () => {
    const validator = new Utf8Validator();
    assert.equal(validator.push(hex('ff')), false);
    assert.equal(validator.push(hex('61')), false);
    validator.reset();
    assert.equal(validator.push(hex('61')), true);
    assert.equal(validator.end(), true);
  });

  it('agrees with TextDecoder (fatal) and with a Buffer round trip for any split (property)', () => {
    fc.assert(
      fc.property(byteString, fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        const expected = decodesStrictly(bytes);
        assert.equal(roundTrips(bytes), expected, 'the two oracles disagree');
        const { pushes, end } = validate(splitAt(bytes, cuts));
        assert.equal(pushes.every(Boolean) && end, expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('fails exactly at the first piece that makes the prefix impossible (property)', () => {
    fc.assert(
      fc.property(byteString, fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        const pieces = splitAt(bytes, cuts);
        const { pushes } = validate(pieces);
        let fed = 0;
        let failed = false;
        const expected = pieces.map((piece) => {
          fed += piece.length;
          failed ||= !prefixIsPossible(bytes.subarray(0, fed));
          return !failed;
        });
        assert.deepEqual(pushes, expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('fails exactly at the first impossible byte when fed one byte at a time (property)', () => {
    fc.assert(
      fc.property(byteString, (bytes) => {
        const validator = new Utf8Validator();
        for (let i = 0; i < bytes.length; i++) {
          assert.equal(validator.push(bytes.subarray(i, i + 1)), prefixIsPossible(bytes.subarray(0, i + 1)), `byte ${i}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});
