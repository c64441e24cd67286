// Per-connection request rate limit: a token bucket (ratePerSecond, burst) on an injected clock,
// plus the abuse rule: a connection refused more than twice its burst within one second is closed.

export interface RateLimit {
  /** Sustained requests per second. */
  ratePerSecond: number;
  /** Requests allowed at once after a quiet period (the bucket's size). */
  burst: number;
}

export const RateVerdict = {
  ALLOWED: 'allowed',
  /** Refuse this request (RATE_LIMITED reply). */
  LIMITED: 'limited',
  /** Refused more than 2 × burst times within a second: close the connection (1013: come back later). */
  ABUSIVE: 'abusive',
} as const;
export type RateVerdict = (typeof RateVerdict)[keyof typeof RateVerdict];

const ABUSE_WINDOW_MS = 1000;
const ABUSE_FACTOR = 2;

export class RateLimiter {
  private tokens: number;
  private lastRefillMs: number;
  private windowStartMs: number;
  private refusedInWindow = 0;

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number,
  ) {
    if (!(limit.ratePerSecond > 0) || !(limit.burst >= 1)) throw new RangeError('rateLimit needs ratePerSecond > 0 and burst >= 1');
    this.tokens = limit.burst;
    this.lastRefillMs = now();
    this.windowStartMs = this.lastRefillMs;
  }

  /** Takes one token for a request; says whether it may proceed. */
  take(): RateVerdict {
    const now = this.now();
    const elapsedMs = Math.max(0, now - this.lastRefillMs);
    this.tokens = Math.min(this.limit.burst, this.tokens + (elapsedMs * this.limit.ratePerSecond) / 1000);
    this.lastRefillMs = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return RateVerdict.ALLOWED;
    }
    if (now - this.windowStartMs >= ABUSE_WINDOW_MS) {
      this.windowStartMs = now;
      this.refusedInWindow = 0;
    }
    this.refusedInWindow += 1;
    return this.refusedInWindow > ABUSE_FACTOR * this.limit.burst ? RateVerdict.ABUSIVE : RateVerdict.LIMITED;
  }
}
