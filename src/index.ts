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

// The messaging layer (L2): channels with delivery guarantees, RPC, presence, a reconnecting client.
export {
  RealtimeServer,
  DEFAULT_REALTIME_PATH,
  type RealtimeServerOptions,
  type Authenticate,
  type SessionInfo,
  type RpcContext,
  type RpcHandler,
  type RpcHandlerOptions,
  type ServerCallOptions,
  type SessionLimits,
} from './realtime/realtime-server.js';
export { RealtimeClient } from './realtime/realtime-client.js';
export type { RealtimeClientOptions, MethodSpec, CallOptions, HandlerContext } from './realtime/realtime-client-options.js';
export type { ClientSubscription, SubscribeOptions, PublicationMeta, SubscribedInfo } from './realtime/client-subscription.js';
export { MemoryBroker, type MemoryBrokerOptions, type MemoryBrokerStats } from './realtime/memory-broker.js';
export { RedisBroker } from './brokers/redis/index.js';
export {
  BrokerError,
  DEFAULT_BROKER_OPTIONS,
  type Broker,
  type BrokerOptions,
  type BrokerPublication,
  type BrokerPublishResult,
  type BrokerHistory,
  type BrokerSubscription,
  type HistoryOptions,
  type PresenceEvent,
} from './realtime/broker.js';
export { jsonCodec, subprotocolOf, SUBPROTOCOL_PREFIX, type Codec } from './realtime/codec.js';
export { RealtimeError, RealtimeErrorCode, shouldReconnect } from './realtime/realtime-errors.js';
export type { PresenceMember, StreamPosition, PublishResult, SubscribeResult } from './realtime/envelope.js';
export type { TransportConnection, WebSocketLike, WebSocketConstructor } from './realtime/transport.js';
// MessagePack and Protobuf codecs: `import { msgpackCodec, protobufCodec } from 'tidewire/codecs'`.
