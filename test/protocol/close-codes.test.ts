import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CloseCode, MAX_CLOSE_REASON_BYTES, isUserSettable, isWireValid } from '../../src/protocol/close-codes.js';

/** RFC 6455 §7.4.1/§7.4.2 plus the IANA registry, spelled out code by code. */
const WIRE_VALID_BELOW_3000 = new Set([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]);

describe('CloseCode', () => {
  it('holds the RFC 6455 §7.4.1 and IANA numbers', () => {
    assert.deepEqual(
      { ...CloseCode },
      {
        NORMAL: 1000,
        GOING_AWAY: 1001,
        PROTOCOL_ERROR: 1002,
        UNSUPPORTED_DATA: 1003,
        NO_STATUS: 1005,
        ABNORMAL: 1006,
        INVALID_PAYLOAD: 1007,
        POLICY_VIOLATION: 1008,
        MESSAGE_TOO_BIG: 1009,
        MANDATORY_EXTENSION: 1010,
        INTERNAL_ERROR: 1011,
        SERVICE_RESTART: 1012,
        TRY_AGAIN_LATER: 1013,
        BAD_GATEWAY: 1014,
        TLS_HANDSHAKE: 1015,
      },
    );
  });

  it('limits a close reason to 123 bytes (125 minus the 2-byte code, RFC 6455 §5.5)', () => {
    assert.equal(MAX_CLOSE_REASON_BYTES, 123);
  });
});

describe('isWireValid', () => {
  it('accepts the defined codes and the registered and private ranges', () => {
    for (const code of [...WIRE_VALID_BELOW_3000, 3000, 3999, 4000, 4999]) assert.equal(isWireValid(code), true, String(code));
  });

  it('rejects the reserved codes that must never be sent (1004, 1005, 1006, 1015)', () => {
    for (const code of [1004, 1005, 1006, 1015]) assert.equal(isWireValid(code), false, String(code));
  });

  it('rejects codes below 1000, the unassigned 1016-2999, and 5000 upward', () => {
    for (const code of [0, 1, 999, 1016, 1100, 2000, 2999, 5000, 65535, 65536, -1000]) assert.equal(isWireValid(code), false, String(code));
  });

  it('rejects non-integers and non-finite numbers', () => {
    for (const code of [1000.5, 3000.1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      assert.equal(isWireValid(code), false, String(code));
    }
  });

  it('agrees with the table for every 16-bit code and beyond (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -70000, max: 70000 }), (code) => {
        const expected = WIRE_VALID_BELOW_3000.has(code) || (code >= 3000 && code <= 4999);
        assert.equal(isWireValid(code), expected);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('isUserSettable', () => {
  it('accepts 1000 and 3000-4999 only (WHATWG close())', () => {
    for (const code of [1000, 3000, 3500, 4999]) assert.equal(isUserSettable(code), true, String(code));
    for (const code of [1001, 1002, 1003, 1005, 1006, 1007, 1011, 1015, 2999, 5000, 0, 999]) assert.equal(isUserSettable(code), false, String(code));
  });

  it('rejects non-integers and NaN', () => {
    for (const code of [3000.5, Number.NaN, Number.POSITIVE_INFINITY]) assert.equal(isUserSettable(code), false, String(code));
  });

  it('implies wire validity for every code (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -10, max: 70000 }), fc.double()), (code) => {
        if (isUserSettable(code)) assert.equal(isWireValid(code), true);
      }),
      { numRuns: 2000 },
    );
  });
});
