// Calls from the server to one client (`RealtimeServer.call`): ids of their own, a bound on how
// many wait at once, a timeout (RPC_TIMEOUT) or the caller's AbortSignal (CANCELLED), both of which
// tell the client with a `cancel` frame, and a rejection of every waiting call when the session closes.

import type { ErrorInfo, ServerFrame } from './envelope.js';
import { RealtimeError, RealtimeErrorCode } from './realtime-errors.js';

export interface ServerCallOptions {
  /** Overrides the server's rpcTimeoutMs; 0 = no timeout. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: RealtimeError): void;
}

export class ServerRpc {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedWith: RealtimeError | null = null;

  constructor(
    private readonly send: (frame: ServerFrame) => void,
    private readonly defaultTimeoutMs: number,
    /** Calls waiting at once (owner: this session; overflow: the new call rejects with RATE_LIMITED). */
    private readonly maxPending: number,
  ) {}

  call(method: string, params: unknown, options: ServerCallOptions = {}): Promise<unknown> {
    if (this.closedWith !== null) return Promise.reject(this.closedWith);
    if (this.pending.size >= this.maxPending) {
      return Promise.reject(new RealtimeError(RealtimeErrorCode.RATE_LIMITED, `${this.maxPending} calls to this client are already waiting`));
    }
    const { signal } = options;
    if (signal?.aborted === true) return Promise.reject(cancelled(signal));
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => this.giveUp(id, cancelled(signal!));
      const settle = (): void => {
        this.pending.delete(id);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      this.pending.set(id, {
        resolve: (value) => (settle(), resolve(value)),
        reject: (error) => (settle(), reject(error)),
      });
      if (timeoutMs > 0) {
        timer = setTimeout(() => this.giveUp(id, new RealtimeError(RealtimeErrorCode.RPC_TIMEOUT, `The client did not answer "${method}" within ${timeoutMs} ms`)), timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.send({ t: 'rpc', id, method, params });
    });
  }

  /** Is `id` a call waiting for its answer? */
  isPending(id: number): boolean {
    return this.pending.has(id);
  }

  /** The client answered; false when nothing waits for this id (a late answer after a timeout). */
  answer(id: number, outcome: { result: unknown } | { error: ErrorInfo }): boolean {
    const pending = this.pending.get(id);
    if (pending === undefined) return false;
    if ('error' in outcome) pending.reject(RealtimeError.fromInfo(outcome.error));
    else pending.resolve(outcome.result);
    return true;
  }

  /** The session closed: every waiting call rejects with `error`, and so do later ones. */
  close(error: RealtimeError): void {
    this.closedWith = error;
    for (const pending of [...this.pending.values()]) pending.reject(error);
  }

  private giveUp(id: number, error: RealtimeError): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    pending.reject(error);
    this.send({ t: 'cancel', id });
  }
}

function cancelled(signal: AbortSignal): RealtimeError {
  const reason: unknown = signal.reason;
  if (reason instanceof RealtimeError) return reason;
  return new RealtimeError(RealtimeErrorCode.CANCELLED, reason instanceof Error ? reason.message : 'The call was cancelled');
}
