// Every size and time limit of the protocol stack, with its safe default, in one place.
// The driver (L1) reads the time limits; the sans-I/O core only the size limits.

export interface Limits {
  /** Largest message accepted, after reassembly and after decompression (1009 beyond). */
  maxMessageBytes: number;
  /** Most frames one message may be split into (1009 beyond). Small fragments are copied into one buffer, so this bounds CPU, not memory. */
  maxFragmentsPerMessage: number;
  /** Largest HTTP head (request line or status line plus headers) of a handshake. */
  maxHandshakeHeaderBytes: number;
  /** Most header lines in a handshake. */
  maxHandshakeHeaderCount: number;
  /** Time allowed from TCP accept (or connect) to the end of the opening handshake. */
  handshakeTimeoutMs: number;
  /** Time allowed for the peer to answer our close frame (and for the server to drop TCP). */
  closeTimeoutMs: number;
  /** `send()` reports backpressure (returns false, then 'drain') once this many bytes are buffered. */
  highWaterMarkBytes: number;
  /** Hard bound on bytes buffered for one connection; past it the connection is closed with 1013. */
  maxBufferedBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxMessageBytes: 1024 * 1024,
  maxFragmentsPerMessage: 1024 * 1024,
  maxHandshakeHeaderBytes: 16 * 1024,
  maxHandshakeHeaderCount: 100,
  handshakeTimeoutMs: 10_000,
  closeTimeoutMs: 5_000,
  highWaterMarkBytes: 1024 * 1024,
  maxBufferedBytes: 64 * 1024 * 1024,
});

/** Fills in defaults and rejects nonsense (a limit that is not a positive integer). */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(overrides) as [keyof Limits, number | undefined][]) {
    if (value === undefined) continue;
    if (!(name in DEFAULT_LIMITS)) throw new TypeError(`Unknown limit "${name}"`);
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`Limit "${name}" must be a positive integer, got ${String(value)}`);
    }
    limits[name] = value;
  }
  return limits;
}
