// An independent WebSocket peer for the conformance suite: a minimal frame codec, a raw client and
// a raw server that put exactly the bytes a test chooses on a real TCP socket and decode what comes
// back. It imports nothing from src/ on purpose: a check built on the code under test shares its bugs.
// The parts live in raw-peer/; this file gathers them for the tests.

export { DEFAULT_TIMEOUT_MS, withTimeout } from './with-timeout.js';
export * from './raw-peer/app-registry.js';
export * from './raw-peer/bytes.js';
export * from './raw-peer/deflate-codec.js';
export * from './raw-peer/frame-codec.js';
export * from './raw-peer/http-head.js';
export * from './raw-peer/opening-handshake.js';
export * from './raw-peer/raw-client.js';
export * from './raw-peer/raw-peer.js';
export * from './raw-peer/raw-server.js';
export * from './raw-peer/socket-reader.js';
export * from './raw-peer/targets.js';
