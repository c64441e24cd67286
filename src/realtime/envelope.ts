// The messaging layer's wire protocol, version 1 (docs/protocol.md): every WebSocket message is
// one frame of these unions, encoded by the negotiated codec. Frames are decoded once, at the
// edge (decodeClientFrame / decodeServerFrame in envelope-decoder.ts), and switched on `t`.

export const PROTOCOL_VERSION = 1;

/** Where a subscriber stopped: the channel's epoch and the last offset it saw. */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

/** A message in a channel, as delivered to subscribers. */
export interface PublicationFrame {
  t: 'pub';
  channel: string;
  epoch: string;
  offset: number;
  data: unknown;
}

export interface ErrorInfo {
  /** A stable code from ErrorCode (realtime-errors.ts). */
  code: string;
  message: string;
  /** What a handler attached to its RealtimeError (any application value); absent when nothing was. */
  details?: unknown;
}

export interface PresenceMember {
  /** One per connection (the session id). */
  clientId: string;
  /** From authenticate(); absent for anonymous sessions. */
  userId?: string;
  info?: unknown;
}

// ---- client → server ----

export type ClientFrame =
  | { t: 'sub'; id: number; channel: string; since?: StreamPosition; presence?: boolean }
  | { t: 'unsub'; id: number; channel: string }
  /** `pid` is unique per client instance and stable across reconnects: the server drops repeats. */
  | { t: 'pub'; id: number; channel: string; pid: string; data: unknown }
  | { t: 'rpc'; id: number; method: string; params: unknown }
  | { t: 'cancel'; id: number }
  | { t: 'presence'; id: number; channel: string }
  /** Answers to a server-initiated `rpc`. */
  | { t: 'result'; id: number; result: unknown }
  | { t: 'error'; id: number; error: ErrorInfo }
  /** Application-level heartbeat: browsers cannot send ping frames. */
  | { t: 'ping' };

// ---- server → client ----

export interface SubscribeResult {
  epoch: string;
  /** Where the subscription continues from: the latest offset, or the last publication this result replays when the rest of a long replay follows as `pub` frames (0: empty). */
  offset: number;
  /** False when `since` could not be honoured (history too short or the epoch changed): reload state. */
  recovered: boolean;
  /** Replayed publications (offset > since.offset), in order; live ones follow as `pub` frames. */
  publications: PublicationFrame[];
  /** Present when the subscription asked for presence. */
  members?: PresenceMember[];
}

export interface PublishResult {
  epoch: string;
  offset: number;
}

export type ServerFrame =
  | { t: 'hello'; version: number; session: string; heartbeatMs: number }
  | PublicationFrame
  /** Success of a client request (`sub`: SubscribeResult, `pub`: PublishResult, `rpc`: the handler's result, …). */
  | { t: 'result'; id: number; result: unknown }
  | { t: 'error'; id: number; error: ErrorInfo }
  | { t: 'join'; channel: string; member: PresenceMember }
  | { t: 'leave'; channel: string; member: PresenceMember }
  /** A server-initiated RPC; the client answers with `result` or `error`. */
  | { t: 'rpc'; id: number; method: string; params: unknown }
  | { t: 'cancel'; id: number }
  /** The server ended a subscription (e.g. permissions changed); the client may resubscribe later. */
  | { t: 'unsubscribed'; channel: string; reason: ErrorInfo }
  | { t: 'pong' };

export type ClientFrameType = ClientFrame['t'];
export type ServerFrameType = ServerFrame['t'];
