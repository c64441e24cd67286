// The browser bundle's entry (scripts/build-browser-bundle.mjs → dist/browser/tidewire-realtime.min.js):
// the client, the JSON codec, the error class and codes, and their types. Nothing from node/.

export { RealtimeClient } from './realtime-client.js';
export type {
  AnyChannels, AnyMethods, CallOptions, ClientEvents, HandlerContext, MethodSpec, RealtimeClientOptions,
} from './realtime-client-options.js';
export { ClientSubscription, type PublicationMeta, type SubscribedInfo, type SubscribeOptions, type SubscriptionEvents } from './client-subscription.js';
export { ClientState, type StateInfo } from './client-state.js';
export type { BackoffOptions } from './backoff.js';
export { jsonCodec, type Codec } from './codec.js';
export { RealtimeError, RealtimeErrorCode } from './realtime-errors.js';
export type { PresenceMember, PublishResult, StreamPosition } from './envelope.js';
export type { WebSocketConstructor, WebSocketLike } from './transport.js';
