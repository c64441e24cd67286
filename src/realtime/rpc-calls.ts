// A session's incoming RPC calls while they run: many in flight, each with an AbortSignal, a
// timeout (RPC_TIMEOUT) and cancellation by the client (CANCELLED). Exactly one reply per call.

import type { ErrorInfo } from './envelope.js';
import { RealtimeError, RealtimeErrorCode } from './realtime-errors.js';
import type { RpcRegistry } from './rpc-registry.js';
import type { SessionInfo } from './session-info.js';

/** How a session answers a client request. */
export interface Replier {
  result(id: number, result: unknown): void;
  error(id: number, error: ErrorInfo): void;
}

interface InFlight {
  readonly controller: AbortController;
  timer: NodeJS.Timeout | undefined;
  /** Ends the call once: removes it, stops the timer, sends `reply`. */
  finish(reply: (() => void) | null): void;
}

export class RpcCalls {
  private readonly inFlight = new Map<number, InFlight>();

  constructor(
    private readonly registry: RpcRegistry,
    private readonly session: SessionInfo,
    /** Used when the method has no timeout of its own; 0 = none. */
    private readonly defaultTimeoutMs: number,
    private readonly replier: Replier,
  ) {}

  get size(): number {
    return this.inFlight.size;
  }

  /** Runs a call; resolves once its one reply was sent (or the session closed). */
  run(id: number, method: string, params: unknown): Promise<void> {
    if (this.inFlight.has(id)) {
      this.replier.error(id, { code: RealtimeErrorCode.BAD_REQUEST, message: `A call with id ${id} is already in flight` });
      return Promise.resolve();
    }
    const registered = this.registry.lookup(method);
    if (registered === undefined) {
      this.replier.error(id, { code: RealtimeErrorCode.UNKNOWN_METHOD, message: `Unknown method "${method}"` });
      return Promise.resolve();
    }
    return new Promise<void>((done) => {
      const controller = new AbortController();
      const call: InFlight = {
        controller,
        timer: undefined,
        finish: (reply) => {
          if (this.inFlight.get(id) !== call) return;
          this.inFlight.delete(id);
          clearTimeout(call.timer);
          reply?.();
          done();
        },
      };
      this.inFlight.set(id, call);
      const timeoutMs = registered.timeoutMs ?? this.defaultTimeoutMs;
      if (timeoutMs > 0) {
        call.timer = setTimeout(() => this.end(id, RealtimeErrorCode.RPC_TIMEOUT, `"${method}" did not answer within ${timeoutMs} ms`), timeoutMs);
      }
      Promise.resolve()
        .then(() => registered.handler(params, { session: this.session, signal: controller.signal }))
        .then(
          (result) => call.finish(() => this.replier.result(id, result === undefined ? null : result)),
          (error: unknown) => call.finish(() => this.replier.error(id, errorInfoOf(error))),
        );
    });
  }

  /** The client cancelled call `id`: its signal aborts and it is answered CANCELLED. False if not in flight. */
  cancel(id: number): boolean {
    return this.end(id, RealtimeErrorCode.CANCELLED, 'The call was cancelled by the client');
  }

  /** The session closed: every signal aborts, nobody is answered. */
  abortAll(): void {
    for (const call of [...this.inFlight.values()]) {
      call.finish(null);
      call.controller.abort(new RealtimeError(RealtimeErrorCode.CANCELLED, 'The session closed'));
    }
  }

  private end(id: number, code: RealtimeErrorCode, message: string): boolean {
    const call = this.inFlight.get(id);
    if (call === undefined) return false;
    const error = new RealtimeError(code, message);
    call.finish(() => this.replier.error(id, error.toInfo())); // reply first: the handler's reaction to abort is not an answer
    call.controller.abort(error);
    return true;
  }
}

/** What a thrown value becomes on the wire. */
export function errorInfoOf(error: unknown): ErrorInfo {
  if (error instanceof RealtimeError) return error.toInfo();
  if (error instanceof Error) {
    const exposed = (error as Error & { expose?: unknown }).expose !== false;
    return { code: RealtimeErrorCode.HANDLER_ERROR, message: exposed ? error.message : 'Internal error' };
  }
  return { code: RealtimeErrorCode.HANDLER_ERROR, message: String(error) };
}
