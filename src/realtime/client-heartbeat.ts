// The client's application-level heartbeat (browsers cannot send ping frames): a `ping` every
// intervalMs (the server's hello.heartbeatMs); no `pong` within timeoutMs → onTimeout (reconnect).

import type { ClientTimers } from './client-timers.js';

export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000;

export class ClientHeartbeat {
  private tickTimer: unknown = null;
  private deadlineTimer: unknown = null;

  constructor(
    private readonly timers: ClientTimers,
    private readonly timeoutMs: number,
    private readonly sendPing: () => void,
    private readonly onTimeout: () => void,
  ) {}

  /** Starts pinging every intervalMs (0: off). */
  start(intervalMs: number): void {
    this.stop();
    if (intervalMs <= 0) return;
    const tick = () => {
      this.tickTimer = this.timers.setTimeout(tick, intervalMs);
      this.sendPing();
      this.deadlineTimer ??= this.timers.setTimeout(() => {
        this.stop();
        this.onTimeout();
      }, this.timeoutMs);
    };
    this.tickTimer = this.timers.setTimeout(tick, intervalMs);
  }

  /** A pong arrived: the connection is alive. */
  pong(): void {
    if (this.deadlineTimer !== null) this.timers.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
  }

  stop(): void {
    this.pong();
    if (this.tickTimer !== null) this.timers.clearTimeout(this.tickTimer);
    this.tickTimer = null;
  }
}
