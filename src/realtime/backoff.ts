// Reconnect delays: exponential backoff with full jitter and a cap,
// delay = random(0, min(capMs, baseMs·2^attempt)), reset once a connection stayed up stableAfterMs.
// Randomness and the clock are injected (unit tests never sleep).

export interface BackoffOptions {
  /** The ceiling of the first delay (default 500 ms). */
  baseMs?: number;
  /** The largest ceiling (default 30 s). */
  capMs?: number;
  /** A connection that stayed up this long resets the attempt count (default 10 s). */
  stableAfterMs?: number;
}

export const DEFAULT_BACKOFF = { baseMs: 500, capMs: 30_000, stableAfterMs: 10_000 } as const;

/** Past this many attempts the ceiling is the cap anyway; stops 2^attempt from growing without end. */
const MAX_EXPONENT = 30;

/** A full-jitter delay for `attempt` (0 for the first): random(0, min(capMs, baseMs·2^attempt)). */
export function fullJitterMs(random: () => number, baseMs: number, capMs: number, attempt: number): number {
  const ceilingMs = Math.min(capMs, baseMs * 2 ** Math.min(attempt, MAX_EXPONENT));
  return Math.floor(random() * ceilingMs);
}

export class Backoff {
  private attempt = 0;
  private connectedAtMs: number | null = null;
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly stableAfterMs: number;

  constructor(
    options: BackoffOptions,
    private readonly random: () => number,
    private readonly now: () => number,
  ) {
    this.baseMs = options.baseMs ?? DEFAULT_BACKOFF.baseMs;
    this.capMs = options.capMs ?? DEFAULT_BACKOFF.capMs;
    this.stableAfterMs = options.stableAfterMs ?? DEFAULT_BACKOFF.stableAfterMs;
  }

  /** Attempts that failed (or connections that did not stay up) since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** A connection was established: if it stays up stableAfterMs, the next delay starts over. */
  connected(): void {
    this.connectedAtMs = this.now();
  }

  /** The delay before the next attempt, to call once a connection closed or an attempt failed. */
  nextDelayMs(): number {
    if (this.connectedAtMs !== null && this.now() - this.connectedAtMs >= this.stableAfterMs) this.attempt = 0;
    this.connectedAtMs = null;
    const delayMs = fullJitterMs(this.random, this.baseMs, this.capMs, this.attempt);
    this.attempt += 1;
    return delayMs;
  }

  reset(): void {
    this.attempt = 0;
    this.connectedAtMs = null;
  }
}
