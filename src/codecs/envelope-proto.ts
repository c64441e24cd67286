// GENERATED from envelope.proto (test/codecs/protobuf-codec.test.ts fails when they differ): the
// schema as a string, so the protobuf codec needs no file system and bundles for browsers.

export const envelopeProto = `// tidewire messaging protocol, version 1: the envelope of the \`tidewire.v1.proto\` subprotocol.
// The source of truth for src/codecs/envelope-proto.ts (a test checks they are equal) and the
// protobuf form of src/realtime/envelope.ts; docs/protocol.md describes every frame.
//
// Each WebSocket binary message is one Envelope. Application values (data, params, result, info,
// details) are \`bytes\` holding the MessagePack encoding of the value; empty bytes mean "absent"
// (JavaScript undefined). Integers are uint64 on the wire and must stay within 0..2^53-1.

syntax = "proto3";

package tidewire.v1;

message Envelope {
  // The field set is the frame's \`t\`, except that a server \`pub\` is \`publication\`.
  oneof frame {
    // client to server
    Subscribe sub = 1;
    Unsubscribe unsub = 2;
    Publish pub = 3;
    PresenceQuery presence = 4;
    Ping ping = 5;
    // both directions: requests and their answers
    Call rpc = 6;
    Cancel cancel = 7;
    Result result = 8;
    Failure error = 9;
    // server to client
    Hello hello = 10;
    Publication publication = 11;
    PresenceChange join = 12;
    PresenceChange leave = 13;
    Unsubscribed unsubscribed = 14;
    Pong pong = 15;
  }
}

message StreamPosition {
  string epoch = 1;
  uint64 offset = 2;
}

message ErrorInfo {
  string code = 1;
  string message = 2;
  bytes details = 3;
}

message PresenceMember {
  string client_id = 1;
  optional string user_id = 2;
  bytes info = 3;
}

message Subscribe {
  uint64 id = 1;
  string channel = 2;
  StreamPosition since = 3;
  optional bool presence = 4;
}

message Unsubscribe {
  uint64 id = 1;
  string channel = 2;
}

message Publish {
  uint64 id = 1;
  string channel = 2;
  string pid = 3;
  bytes data = 4;
}

message PresenceQuery {
  uint64 id = 1;
  string channel = 2;
}

message Ping {}

message Call {
  uint64 id = 1;
  string method = 2;
  bytes params = 3;
}

message Cancel {
  uint64 id = 1;
}

message Result {
  uint64 id = 1;
  bytes result = 2;
}

message Failure {
  uint64 id = 1;
  ErrorInfo error = 2;
}

message Hello {
  uint64 version = 1;
  string session = 2;
  uint64 heartbeat_ms = 3;
}

message Publication {
  string channel = 1;
  string epoch = 2;
  uint64 offset = 3;
  bytes data = 4;
}

message PresenceChange {
  string channel = 1;
  PresenceMember member = 2;
}

message Unsubscribed {
  string channel = 1;
  ErrorInfo reason = 2;
}

message Pong {}
`;
