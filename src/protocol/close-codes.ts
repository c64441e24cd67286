// Close status codes (RFC 6455 §7.4) and the two policies over them: which codes may travel
// on the wire, and which an application may pass to close(). The single source of truth.

export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Reserved: "no status code was present". Never sent (RFC 6455 §7.4.1). */
  NO_STATUS: 1005,
  /** Reserved: "the connection closed without a close frame". Never sent. */
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  /** Reserved: "TLS handshake failed". Never sent. */
  TLS_HANDSHAKE: 1015,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** May this code appear in a close frame? (RFC 6455 §7.4.1, §7.4.2 and the IANA registry.) */
export function isWireValid(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

/**
 * May an application pass this code to close()? The browser rule (WHATWG WebSockets §close):
 * 1000 or 3000–4999. Server-side connections may also use the other wire-valid codes
 * (1001 going away, 1011, 1013 …) through `isWireValid`.
 */
export function isUserSettable(code: number): boolean {
  return code === CloseCode.NORMAL || (Number.isInteger(code) && code >= 3000 && code <= 4999);
}

/** Largest close reason: a control frame payload is at most 125 bytes, 2 of them the code (RFC 6455 §5.5). */
export const MAX_CLOSE_REASON_BYTES = 123;
