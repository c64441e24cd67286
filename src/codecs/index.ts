// The binary codecs of the messaging layer (JSON is built into src/realtime/codec.ts): pass them
// to RealtimeServer / RealtimeClient to offer `tidewire.v1.msgpack` and `tidewire.v1.proto`.
// A browser bundle that needs only one should import its own file: protobufjs is large.

export { msgpackCodec } from './msgpack-codec.js';
export { protobufCodec } from './protobuf-codec.js';
