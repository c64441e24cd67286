// Publishing with acks and retries: publishes wait in the Outbox (bounded, in order) until acked;
// they go out only on a live connection, again after every reconnect with the same pid, and after
// a retryable error reply once a full-jitter delay has passed (later publishes wait behind them).

import type { ConnectionLink } from './client-connection.js';
import type { ClientTimers } from './client-timers.js';
import type { PublishResult } from './envelope.js';
import { decodePublishResult } from './envelope-decoder.js';
import { isRetryablePublishError, Outbox } from './outbox.js';
import { RealtimeError, RealtimeErrorCode } from './realtime-errors.js';

export class ClientPublisher {
  private readonly outbox: Outbox;
  private retryTimer: unknown = null;
  /**
   * The in-flight window, up to maxInFlight: it drops to 1 on RATE_LIMITED and widens by one per
   * ack (additive increase, multiplicative decrease), so a client settles at the server's rate.
   */
  private window: number;

  constructor(
    maxQueued: number,
    /** At most this many publishes await their ack at once, so flushing a long offline queue cannot burst past a server's rate limit. */
    private readonly maxInFlight: number,
    private readonly link: ConnectionLink,
    private readonly timers: ClientTimers,
    /** Delay before sending again after the n-th (0-based) retryable error of a publish. */
    private readonly retryDelayMs: (retry: number) => number,
  ) {
    this.outbox = new Outbox(maxQueued, randomInstanceId());
    this.window = maxInFlight;
  }

  /** Publishes waiting for an ack. */
  get size(): number {
    return this.outbox.size;
  }

  publish(channel: string, data: unknown): Promise<PublishResult> {
    const result = this.outbox.add(channel, data);
    this.flush();
    return result;
  }

  /** Sends due publishes in queue order, as many as the in-flight window allows. */
  flush(): void {
    if (!this.link.isLive()) return;
    const room = this.window - this.outbox.inFlightCount;
    if (room <= 0) return;
    for (const entry of this.outbox.due().slice(0, room)) {
      const id = this.link.nextId();
      if (this.link.send({ t: 'pub', id, channel: entry.channel, pid: entry.pid, data: entry.data })) this.outbox.markSent(entry, id);
      else this.outbox.fail(entry, new RealtimeError(RealtimeErrorCode.BAD_REQUEST, `the publish to "${entry.channel}" could not be encoded`));
    }
  }

  /** A `result` or `error` for request `id`: false when it is not a publish in flight. */
  reply(id: number, error: RealtimeError | null, result: unknown): boolean {
    const entry = this.outbox.take(id);
    if (entry === undefined) return false;
    if (error === null) {
      const ack = decodePublishResult(result);
      this.window = Math.min(this.maxInFlight, this.window + 1);
      if (ack.ok) this.outbox.ack(entry, ack.result);
      else this.outbox.fail(entry, new RealtimeError(RealtimeErrorCode.INTERNAL, `malformed publish ack: ${ack.reason}`));
    } else if (isRetryablePublishError(error.code)) {
      this.window = 1;
      this.outbox.hold(entry);
      this.retryTimer ??= this.timers.setTimeout(() => {
        this.retryTimer = null;
        this.outbox.release();
        this.flush();
      }, this.retryDelayMs(entry.retries - 1));
    } else {
      this.outbox.fail(entry, error);
    }
    this.flush(); // the window has room again
    return true;
  }

  /** The connection dropped: everything unacked goes out again, in order, after the next hello. */
  connectionLost(): void {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.outbox.connectionLost();
  }

  rejectAll(error: RealtimeError): void {
    this.connectionLost();
    this.outbox.rejectAll(error);
  }
}

/** The client's instance id in publish ids: always real randomness (an injected `random` may repeat across clients). */
function randomInstanceId(): string {
  const bytes = new Uint8Array(9);
  if (globalThis.crypto?.getRandomValues !== undefined) globalThis.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
