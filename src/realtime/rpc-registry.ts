// The server's RPC methods: what `RealtimeServer.handle(method, fn)` registers, looked up by the
// sessions when a client calls. Running the calls (signals, timeouts, cancel) is RpcCalls' job.

import type { SessionInfo } from './session-info.js';

/** What a handler gets besides the params. */
export interface RpcContext {
  readonly session: SessionInfo;
  /** Aborts when the call times out, is cancelled by the client, or the session closes. */
  readonly signal: AbortSignal;
}

/**
 * A method handler. Its result (or resolved value) is the reply; a thrown `RealtimeError(code,
 * message)` becomes an error reply with that code; any other error becomes HANDLER_ERROR with its
 * message (or "Internal error" when the error has `expose: false`).
 */
export type RpcHandler<P = any, R = unknown> = (params: P, context: RpcContext) => R | Promise<R>;

export interface RpcHandlerOptions {
  /** Overrides the server's rpcTimeoutMs for this method; 0 = no timeout. */
  timeoutMs?: number;
}

export interface RegisteredMethod {
  readonly handler: RpcHandler;
  readonly timeoutMs: number | undefined;
}

export class RpcRegistry {
  private readonly methods = new Map<string, RegisteredMethod>();

  /** Registers (or replaces) the handler of `method`. */
  handle(method: string, handler: RpcHandler, options: RpcHandlerOptions = {}): void {
    if (typeof method !== 'string' || method === '') throw new TypeError('An RPC method name must be a non-empty string');
    if (typeof handler !== 'function') throw new TypeError(`The handler of "${method}" must be a function`);
    if (options.timeoutMs !== undefined && !(options.timeoutMs >= 0)) throw new RangeError('timeoutMs must be >= 0');
    this.methods.set(method, { handler, timeoutMs: options.timeoutMs });
  }

  /** Unregisters `method`; true when it was registered. */
  remove(method: string): boolean {
    return this.methods.delete(method);
  }

  lookup(method: string): RegisteredMethod | undefined {
    return this.methods.get(method);
  }
}
