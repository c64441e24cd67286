// The few error classes of tidewire, each with a stable `code` string (docs/errors.md).
// Peer faults carry the close code they cause; local misuse throws at once.

export type ErrorCode =
  | 'PEER_PROTOCOL_ERROR'
  | 'PEER_INVALID_UTF8'
  | 'LIMIT_EXCEEDED'
  | 'INVALID_STATE'
  | 'INVALID_ACCESS'
  | 'SYNTAX_ERROR'
  | 'HANDSHAKE_REJECTED'
  | 'HANDSHAKE_FAILED'
  | 'CONNECTION_CLOSED';

abstract class TidewireError extends Error {
  abstract readonly code: ErrorCode;
  override get name(): string {
    return this.constructor.name;
  }
}

/** The peer broke the protocol; the connection is failed with `closeCode` (1002, 1007, 1009 …). */
export class PeerError extends TidewireError {
  readonly code: 'PEER_PROTOCOL_ERROR' | 'PEER_INVALID_UTF8';
  constructor(
    message: string,
    readonly closeCode: number,
  ) {
    super(message);
    this.code = closeCode === 1007 ? 'PEER_INVALID_UTF8' : 'PEER_PROTOCOL_ERROR';
  }
}

/** A configured limit was exceeded: which one, its value and what was seen. */
export class LimitExceededError extends TidewireError {
  readonly code = 'LIMIT_EXCEEDED' as const;
  constructor(
    readonly limit: string,
    readonly max: number,
    readonly actual: number,
    readonly closeCode: number = 1009,
  ) {
    super(`${limit} exceeded: ${actual} > ${max}`);
  }
}

/** Local misuse: an operation not allowed in the current state (WHATWG "InvalidStateError"). */
export class InvalidStateError extends TidewireError {
  readonly code = 'INVALID_STATE' as const;
}

/** Local misuse: a close code an application may not use (WHATWG "InvalidAccessError"). */
export class InvalidAccessError extends TidewireError {
  readonly code = 'INVALID_ACCESS' as const;
}

/** Local misuse: a malformed argument such as a bad URL or an over-long reason (WHATWG "SyntaxError"). */
export class SyntaxError extends TidewireError {
  readonly code = 'SYNTAX_ERROR' as const;
}

/** The opening handshake was refused with an HTTP status (server side), or the server's answer was wrong (client side). */
export class HandshakeError extends TidewireError {
  readonly code: 'HANDSHAKE_REJECTED' | 'HANDSHAKE_FAILED';
  constructor(
    message: string,
    readonly status: number,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.code = status >= 400 ? 'HANDSHAKE_REJECTED' : 'HANDSHAKE_FAILED';
  }
}

/** The connection is closed: what was sent, what was received, and whether the closing handshake completed. */
export class ConnectionClosedError extends TidewireError {
  readonly code = 'CONNECTION_CLOSED' as const;
  constructor(
    readonly sentCode: number | undefined,
    readonly receivedCode: number | undefined,
    readonly wasClean: boolean,
  ) {
    super(`Connection closed (sent ${sentCode ?? 'none'}, received ${receivedCode ?? 'none'}, ${wasClean ? 'clean' : 'not clean'})`);
  }
}
