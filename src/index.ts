// tidewire's public API.

export { WebSocket, ReadyState, type SendData, type SendOptions, type WebSocketOptions } from './node/websocket.js';
export { WebSocketServer, WebSocketServer as Server, type WebSocketServerOptions } from './node/server.js';
export type { VerifyClient, VerifyInfo, VerifyResult, HandleProtocols } from './node/server-handshake.js';
export { CloseEvent, ErrorEvent, type BinaryType } from './node/whatwg-events.js';
export { CloseCode, isWireValid, isUserSettable, MAX_CLOSE_REASON_BYTES } from './protocol/close-codes.js';
export { DEFAULT_LIMITS, resolveLimits, type Limits } from './protocol/limits.js';
export type { DeflateOptions } from './protocol/permessage-deflate.js';
export {
  PeerError,
  LimitExceededError,
  InvalidStateError,
  InvalidAccessError,
  SyntaxError,
  HandshakeError,
  ConnectionClosedError,
  type ErrorCode,
} from './protocol/errors.js';
