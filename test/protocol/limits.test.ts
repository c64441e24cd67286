import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_LIMITS, resolveLimits, type Limits } from '../../src/protocol/limits.js';

const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as (keyof Limits)[];

describe('DEFAULT_LIMITS', () => {
  it('holds the documented safe defaults', () => {
    assert.deepEqual(
      { ...DEFAULT_LIMITS },
      {
        maxMessageBytes: 1024 * 1024,
        maxFragmentsPerMessage: 1024 * 1024,
        maxHandshakeHeaderBytes: 16 * 1024,
        maxHandshakeHeaderCount: 100,
        handshakeTimeoutMs: 10_000,
        closeTimeoutMs: 5_000,
        highWaterMarkBytes: 1024 * 1024,
        maxBufferedBytes: 64 * 1024 * 1024,
      },
    );
  });

  it('is frozen', () => {
    assert.equal(Object.isFrozen(DEFAULT_LIMITS), true);
    assert.throws(() => {
      (DEFAULT_LIMITS as Limits).maxMessageBytes = 1;
    }, TypeError);
  });
});

describe('resolveLimits', () => {
  it('returns the defaults without overrides, as a fresh object', () => {
    const limits = resolveLimits();
    assert.deepEqual(limits, { ...DEFAULT_LIMITS });
    assert.notEqual(limits, DEFAULT_LIMITS);
    limits.maxMessageBytes = 5;
    assert.equal(DEFAULT_LIMITS.maxMessageBytes, 1024 * 1024);
  });

  it('applies overrides and keeps the other defaults', () => {
    const limits = resolveLimits({ maxMessageBytes: 10, closeTimeoutMs: 1 });
    assert.deepEqual(limits, { ...DEFAULT_LIMITS, maxMessageBytes: 10, closeTimeoutMs: 1 });
  });

  it('skips overrides that are undefined', () => {
    assert.deepEqual(resolveLimits({ maxMessageBytes: undefined }), { ...DEFAULT_LIMITS });
  });

  it('accepts the bounds 1 and Number.MAX_SAFE_INTEGER', () => {
    assert.equal(resolveLimits({ maxFragmentsPerMessage: 1 }).maxFragmentsPerMessage, 1);
    assert.equal(resolveLimits({ maxBufferedBytes: Number.MAX_SAFE_INTEGER }).maxBufferedBytes, Number.MAX_SAFE_INTEGER);
  });

  it('throws TypeError on an unknown limit name', () => {
    assert.throws(() => resolveLimits({ maxMesageBytes: 10 } as unknown as Partial<Limits>), (error: unknown) => {
      return error instanceof TypeError && /maxMesageBytes/.test(error.message);
    });
  });

  it('throws RangeError on zero, negatives, fractions, NaN, infinities and unsafe integers', () => {
    for (const value of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53]) {
      assert.throws(() => resolveLimits({ maxMessageBytes: value }), RangeError, String(value));
    }
  });

  it('throws RangeError on values that are not numbers', () => {
    for (const value of ['10', null, true, 10n]) {
      assert.throws(() => resolveLimits({ closeTimeoutMs: value as unknown as number }), RangeError, String(value));
    }
  });

  it('accepts any positive safe integer for any limit and rejects any other number (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...LIMIT_NAMES), fc.oneof(fc.integer({ min: 1 }), fc.maxSafeInteger(), fc.double()), (name, value) => {
        const valid = Number.isSafeInteger(value) && value > 0;
        if (valid) assert.equal(resolveLimits({ [name]: value })[name], value);
        else assert.throws(() => resolveLimits({ [name]: value }), RangeError);
      }),
      { numRuns: 500 },
    );
  });
});
