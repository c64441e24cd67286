// RealtimeClient's options, the types of its generic channel and method maps, and their defaults.

import type { BackoffOptions } from './backoff.js';
import type { ClientState, StateInfo } from './client-state.js';
import type { ClientTimers } from './client-timers.js';
import type { Codec } from './codec.js';
import type { RealtimeError } from './realtime-errors.js';
import type { WebSocketConstructor } from './transport.js';

/** An RPC method's types: `{ params: …; result: … }`. */
export interface MethodSpec {
  params: unknown;
  result: unknown;
}
/** The default channel map: any channel name, any payload. */
export type AnyChannels = Record<string, unknown>;
/** The default method map: any method name, any params and result. */
export type AnyMethods = Record<string, MethodSpec>;

export interface RealtimeClientOptions {
  /** The WebSocket class (default `globalThis.WebSocket`); in Node pass tidewire's `WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Default jsonCodec; offered as the subprotocol `tidewire.v1.<codec.name>`. */
  codec?: Codec;
  /**
   * Sent on every connect as the query parameter `token` (URL-encoded; the server's
   * authenticate(request) reads it from request.url). A function is called before each attempt,
   * so it can refresh an expired token; if it throws, the attempt fails and is retried with backoff.
   */
  token?: string | (() => string | Promise<string>);
  /** Reconnect delays: full jitter, default { baseMs: 500, capMs: 30_000, stableAfterMs: 10_000 }. */
  backoff?: BackoffOptions;
  /** A `ping` goes out every hello.heartbeatMs; no `pong` within timeoutMs (default 10 s) → reconnect. */
  heartbeat?: { timeoutMs?: number };
  /** Unacknowledged publishes kept (default 1000); past it publish() rejects with QUEUE_FULL. */
  maxQueuedPublishes?: number;
  /** Publishes awaiting their ack at once (default 32): later ones wait in the queue, in order. */
  maxInFlightPublishes?: number;
  /** Calls and presence queries waiting for an answer, and server calls running (default 1000 each). */
  maxPendingRequests?: number;
  /** Channels subscribed at once (default 1000); past it subscribe() throws QUEUE_FULL. */
  maxSubscriptions?: number;
  /** Methods registered with handle() (default 100); past it handle() throws QUEUE_FULL. */
  maxHandlers?: number;
  /** Default timeout of call() and presence() (default 10 s). */
  requestTimeoutMs?: number;
  /** An attempt that gets no hello within this time is given up (default 10 s). */
  connectTimeoutMs?: number;
  /** Injected randomness (backoff jitter), default Math.random. */
  random?: () => number;
  /** Injected clock (backoff reset), default Date.now. */
  now?: () => number;
  /** Injected timers (tests), default the global setTimeout/clearTimeout. */
  timers?: ClientTimers;
}

export const CLIENT_DEFAULTS = {
  maxQueuedPublishes: 1000,
  maxInFlightPublishes: 32,
  maxPendingRequests: 1000,
  maxSubscriptions: 1000,
  maxHandlers: 100,
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
} as const;

export interface CallOptions {
  /** Default: the client's requestTimeoutMs. Past it the call rejects with RPC_TIMEOUT and is cancelled. */
  timeoutMs?: number;
  /** Aborting rejects the call with CANCELLED and sends `cancel` to the server. */
  signal?: AbortSignal;
}

/** What a handler of a server-initiated call gets besides its params. */
export interface HandlerContext {
  /** Aborted when the server cancels the call or the connection drops. */
  signal: AbortSignal;
}

export type ClientEvents = {
  /** Every state change, with the close code / reconnect delay / session that came with it. */
  state: [state: ClientState, info: StateInfo];
  /** Something not tied to a request went wrong (e.g. an invalid frame from the server, ignored). */
  error: [error: RealtimeError];
};
