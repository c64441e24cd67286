// Client requests waiting for an answer (RPC calls and presence queries), by request id, with
// timeouts and cancellation. Owner: RealtimeClient. Bound: maxPending; overflow: the NEW request is
// rejected with QUEUE_FULL. Requests made while offline wait here, unsent, until the next connect.

import type { ClientFrame } from './envelope.js';
import type { ClientTimers } from './client-timers.js';
import { RealtimeError, RealtimeErrorCode } from './realtime-errors.js';

export type RequestFrame = Extract<ClientFrame, { t: 'rpc' | 'presence' }>;

export interface RequestOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Timed out or aborted after it was sent: the client tells the server (`cancel`). */
  onGiveUp: (id: number) => void;
}

interface PendingRequest {
  readonly frame: RequestFrame;
  sent: boolean;
  readonly settle: (error: RealtimeError | null, result?: unknown) => void;
}

export class PendingRequests {
  private readonly requests = new Map<number, PendingRequest>();

  constructor(
    readonly maxPending: number,
    private readonly timers: ClientTimers,
  ) {}

  get size(): number {
    return this.requests.size;
  }

  /** Registers a request; settles with the answer, RPC_TIMEOUT, CANCELLED, or QUEUE_FULL at once. */
  open(frame: RequestFrame, options: RequestOptions): Promise<unknown> {
    const { signal } = options;
    if (signal?.aborted === true) return Promise.reject(new RealtimeError(RealtimeErrorCode.CANCELLED, 'aborted before it was sent'));
    if (this.requests.size >= this.maxPending) {
      return Promise.reject(new RealtimeError(RealtimeErrorCode.QUEUE_FULL, `${this.maxPending} requests are already waiting for an answer`));
    }
    return new Promise((resolve, reject) => {
      const giveUp = (error: RealtimeError) => {
        const request = this.requests.get(frame.id);
        if (request === undefined) return;
        request.settle(error);
        if (request.sent) options.onGiveUp(frame.id);
      };
      const onAbort = () => giveUp(new RealtimeError(RealtimeErrorCode.CANCELLED, `${describe(frame)} was cancelled`));
      const timer = this.timers.setTimeout(
        () => giveUp(new RealtimeError(RealtimeErrorCode.RPC_TIMEOUT, `no answer to ${describe(frame)} within ${options.timeoutMs} ms`)),
        options.timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.requests.set(frame.id, {
        frame,
        sent: false,
        settle: (error, result) => {
          this.requests.delete(frame.id);
          this.timers.clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          if (error === null) resolve(result);
          else reject(error);
        },
      });
    });
  }

  has(id: number): boolean {
    return this.requests.has(id);
  }

  /** Requests not sent yet, in the order they were made. */
  unsent(): RequestFrame[] {
    return [...this.requests.values()].filter((request) => !request.sent).map((request) => request.frame);
  }

  markSent(id: number): void {
    const request = this.requests.get(id);
    if (request !== undefined) request.sent = true;
  }

  /** Settles request `id` with a reply; false when no such request waits (late or unknown). */
  settle(id: number, error: RealtimeError | null, result?: unknown): boolean {
    const request = this.requests.get(id);
    if (request === undefined) return false;
    request.settle(error, result);
    return true;
  }

  /** The connection dropped: requests already sent fail with `error` (they may have run); unsent ones wait. */
  connectionLost(error: RealtimeError): void {
    for (const request of [...this.requests.values()]) if (request.sent) request.settle(error);
  }

  rejectAll(error: RealtimeError): void {
    for (const request of [...this.requests.values()]) request.settle(error);
  }
}

function describe(frame: RequestFrame): string {
  return frame.t === 'rpc' ? `call "${frame.method}"` : `presence of "${frame.channel}"`;
}
