// Bounds on the envelope's fields (docs/protocol.md, "Field limits"): the one place the decoder,
// the docs and the tests take them from. Lengths are JS string lengths (UTF-16 code units); any
// string of at most that many UTF-8 bytes is within them.

export const EnvelopeLimits = Object.freeze({
  /** Channel names: 1..256 (and printable, see channel-name.ts). */
  maxChannelNameLength: 256,
  /** Every other name or identifier: method, pid, epoch, session, clientId, userId, error code. */
  maxNameLength: 256,
  /** Request ids, offsets, versions and durations are integers in 0..2^53-1 (exact in every JS number). */
  maxInteger: Number.MAX_SAFE_INTEGER,
} as const);
