// Calls from the server to the client: the registry of handlers (bounded: maxHandlers, overflow:
// handle() throws QUEUE_FULL) and the calls running (bounded: maxRunning, overflow: the call is
// answered RATE_LIMITED), each cancellable through its AbortSignal.

import type { ClientFrame, ErrorInfo } from './envelope.js';
import type { HandlerContext } from './realtime-client-options.js';
import { RealtimeError, RealtimeErrorCode } from './realtime-errors.js';

type Handler = (params: never, context: HandlerContext) => unknown;
type Answer = Extract<ClientFrame, { t: 'result' | 'error' }>;

export class ClientRpcHandlers {
  private readonly handlers = new Map<string, Handler>();
  private readonly running = new Map<number, AbortController>();

  constructor(
    private readonly maxHandlers: number,
    private readonly maxRunning: number,
  ) {}

  /** Registers (or replaces) the handler of `method`; returns its remover. */
  register(method: string, handler: Handler): () => void {
    if (!this.handlers.has(method) && this.handlers.size >= this.maxHandlers) {
      throw new RealtimeError(RealtimeErrorCode.QUEUE_FULL, `${this.maxHandlers} handlers are registered already`);
    }
    this.handlers.set(method, handler);
    return () => {
      if (this.handlers.get(method) === handler) this.handlers.delete(method);
    };
  }

  /** Runs the handler of a server call; `respond` is not called when the call was cancelled. */
  async run(id: number, method: string, params: unknown, respond: (answer: Answer) => void): Promise<void> {
    const handler = this.handlers.get(method);
    if (handler === undefined) return respond(errorAnswer(id, RealtimeErrorCode.UNKNOWN_METHOD, `no handler for "${method}"`));
    if (this.running.size >= this.maxRunning) return respond(errorAnswer(id, RealtimeErrorCode.RATE_LIMITED, `${this.maxRunning} calls are running already`));
    const controller = new AbortController();
    this.running.set(id, controller);
    try {
      const result = await handler(params as never, { signal: controller.signal });
      if (!controller.signal.aborted) respond({ t: 'result', id, result });
    } catch (error) {
      if (!controller.signal.aborted) respond({ t: 'error', id, error: toErrorInfo(error) });
    } finally {
      if (this.running.get(id) === controller) this.running.delete(id);
    }
  }

  /** The server cancelled call `id`. */
  cancel(id: number): void {
    this.running.get(id)?.abort();
    this.running.delete(id);
  }

  /** The connection dropped: every running call is cancelled (its answer could not be delivered). */
  cancelAll(): void {
    for (const controller of this.running.values()) controller.abort();
    this.running.clear();
  }
}

function errorAnswer(id: number, code: string, message: string): Answer {
  return { t: 'error', id, error: { code, message } };
}

function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof RealtimeError) return error.toInfo();
  return { code: RealtimeErrorCode.HANDLER_ERROR, message: error instanceof Error ? error.message : String(error) };
}
