// The sans-I/O protocol core (RFC 6455 + RFC 7692), for building other drivers: bytes in,
// events and bytes out, no sockets and no timers.

export { Connection, ConnectionState, Role, type ConnectionEvents, type ConnectionOptions } from './connection.js';
export { FrameParser, type FrameSink } from './frame-parser.js';
export { encodeFrame, writeFrameHeader, writeFrameInto, frameHeaderLength, type FrameHeaderFields } from './frame-writer.js';
export { applyMask } from './masking.js';
export { Utf8Validator, isValidUtf8 } from './utf8-validator.js';
export { Opcode, isControlOpcode, isKnownOpcode } from './opcodes.js';
export { CloseCode, isWireValid, isUserSettable, MAX_CLOSE_REASON_BYTES } from './close-codes.js';
export { encodeClosePayload } from './close-payload.js';
export { DEFAULT_LIMITS, resolveLimits, type Limits } from './limits.js';
export * from './handshake.js';
export { parseExtensionHeader, parseTokenList, formatExtensions, isToken, type ExtensionOffer } from './header-values.js';
export * from './permessage-deflate.js';
export * from './errors.js';
