// Stable error codes of the messaging layer (docs/errors.md) and the one policy that decides,
// from a close code, whether a client reconnects.

import { CloseCode } from '../protocol/close-codes.js';
import type { ErrorInfo } from './envelope.js';

export const RealtimeErrorCode = {
  /** A frame that decodes but is not a valid request. */
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** canSubscribe / canPublish said no. */
  FORBIDDEN: 'FORBIDDEN',
  UNKNOWN_METHOD: 'UNKNOWN_METHOD',
  RPC_TIMEOUT: 'RPC_TIMEOUT',
  CANCELLED: 'CANCELLED',
  /** The handler threw; `message` is the error's message unless it was marked private. */
  HANDLER_ERROR: 'HANDLER_ERROR',
  RATE_LIMITED: 'RATE_LIMITED',
  NOT_SUBSCRIBED: 'NOT_SUBSCRIBED',
  ALREADY_SUBSCRIBED: 'ALREADY_SUBSCRIBED',
  /** The broker could not accept a publish (e.g. Redis down): it was NOT published. */
  BROKER_UNAVAILABLE: 'BROKER_UNAVAILABLE',
  /** Client side: the bounded offline queue is full. */
  QUEUE_FULL: 'QUEUE_FULL',
  /** Client side: a request was sent, then its connection closed before the answer came (it may have run). */
  CONNECTION_LOST: 'CONNECTION_LOST',
  /** Client side: the client was closed for good before an answer came. */
  CLIENT_CLOSED: 'CLIENT_CLOSED',
  INTERNAL: 'INTERNAL',
} as const;
export type RealtimeErrorCode = (typeof RealtimeErrorCode)[keyof typeof RealtimeErrorCode];

/** An error with a stable code, as thrown by the client and by RPC calls, and as sent on the wire. */
export class RealtimeError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** Anything a handler attached (sent to the peer). */
    readonly details?: unknown,
  ) {
    super(message);
  }

  override get name(): string {
    return 'RealtimeError';
  }

  toInfo(): ErrorInfo {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromInfo(info: ErrorInfo): RealtimeError {
    return new RealtimeError(info.code, info.message, info.details);
  }
}

/** Close codes an application may use: 4000–4499 mean "do not reconnect", 4500–4999 "reconnect". */
export const APP_CLOSE_NO_RECONNECT_MIN = 4000;
export const APP_CLOSE_RECONNECT_MIN = 4500;

/**
 * Whether a client reconnects after the connection closed with `code` (1005/1006 included).
 * `closedByClient`: the application called close() itself.
 */
export function shouldReconnect(code: number, closedByClient: boolean): boolean {
  if (closedByClient) return false;
  switch (code) {
    case CloseCode.NORMAL: // the server ended the session on purpose
    case CloseCode.PROTOCOL_ERROR:
    case CloseCode.UNSUPPORTED_DATA:
    case CloseCode.INVALID_PAYLOAD:
    case CloseCode.POLICY_VIOLATION:
    case CloseCode.MESSAGE_TOO_BIG:
    case CloseCode.MANDATORY_EXTENSION:
      return false; // the same thing would happen again
    default:
      if (code >= APP_CLOSE_NO_RECONNECT_MIN && code < APP_CLOSE_RECONNECT_MIN) return false;
      return true; // 1001 going away, 1005, 1006, 1011–1014, 3000–3999, 4500–4999
  }
}
