// The Protobuf codec (subprotocol `tidewire.v1.proto`, docs/protocol.md): frames of envelope.ts
// as the Envelope message of envelope.proto (parsed from the embedded text by protobufjs: no file
// system, no code generation), application values as MessagePack bytes inside it.

import protobuf from 'protobufjs';
import type { Codec } from '../realtime/codec.js';
import type { ClientFrame, ErrorInfo, PresenceMember, ServerFrame } from '../realtime/envelope.js';
import { envelopeProto } from './envelope-proto.js';
import { packValue, unpackValue } from './msgpack-codec.js';

const Envelope = protobuf.parse(envelopeProto).root.lookupType('tidewire.v1.Envelope');

type Frame = ClientFrame | ServerFrame;
type Fields = { readonly [field: string]: unknown };
/** A decoded uint64: protobufjs gives a Long when the `long` package is present, a number otherwise. */
type Uint64 = number | { toNumber(): number };

const EMPTY = new Uint8Array(0);

export const protobufCodec: Codec = {
  name: 'proto',
  binary: true,
  encode: (frame) => Envelope.encode(toEnvelope(frame as Frame)).finish(),
  decode: (message) => {
    if (typeof message === 'string') throw new TypeError('tidewire.v1.proto frames are binary messages, got text');
    return fromEnvelope(Envelope.decode(message) as unknown as Fields);
  },
};

/** Empty bytes stand for undefined: no MessagePack item is empty. */
function pack(value: unknown): Uint8Array {
  return value === undefined ? EMPTY : packValue(value);
}

function unpack(bytes: unknown): unknown {
  return bytes instanceof Uint8Array && bytes.length > 0 ? unpackValue(bytes) : undefined;
}

function errorInfo(info: ErrorInfo): Fields {
  return { code: info.code, message: info.message, details: pack(info.details) };
}

function member(m: PresenceMember): Fields {
  return { clientId: m.clientId, userId: m.userId, info: pack(m.info) };
}

/** The Envelope fields of a frame (our own, already valid: the caller built it from envelope.ts types). */
function toEnvelope(frame: Frame): Fields {
  switch (frame.t) {
    case 'sub':
      return { sub: { id: frame.id, channel: frame.channel, since: frame.since, presence: frame.presence } };
    case 'unsub':
      return { unsub: { id: frame.id, channel: frame.channel } };
    case 'pub':
      return 'pid' in frame
        ? { pub: { id: frame.id, channel: frame.channel, pid: frame.pid, data: pack(frame.data) } }
        : { publication: { channel: frame.channel, epoch: frame.epoch, offset: frame.offset, data: pack(frame.data) } };
    case 'presence':
      return { presence: { id: frame.id, channel: frame.channel } };
    case 'ping':
      return { ping: {} };
    case 'rpc':
      return { rpc: { id: frame.id, method: frame.method, params: pack(frame.params) } };
    case 'cancel':
      return { cancel: { id: frame.id } };
    case 'result':
      return { result: { id: frame.id, result: pack(frame.result) } };
    case 'error':
      return { error: { id: frame.id, error: errorInfo(frame.error) } };
    case 'hello':
      return { hello: { version: frame.version, session: frame.session, heartbeatMs: frame.heartbeatMs } };
    case 'join':
      return { join: { channel: frame.channel, member: member(frame.member) } };
    case 'leave':
      return { leave: { channel: frame.channel, member: member(frame.member) } };
    case 'unsubscribed':
      return { unsubscribed: { channel: frame.channel, reason: errorInfo(frame.reason) } };
    case 'pong':
      return { pong: {} };
    default:
      return unknownFrame(frame);
  }
}

function unknownFrame(frame: never): never {
  throw new TypeError(`cannot encode frame type ${JSON.stringify((frame as Fields).t)}`);
}

// ---- decoding: a faithful plain-object mapping; the envelope decoder checks the shapes ----

const ONEOF_NAMES = ['sub', 'unsub', 'pub', 'presence', 'ping', 'rpc', 'cancel', 'result', 'error', 'hello', 'publication', 'join', 'leave', 'unsubscribed', 'pong'] as const;
type OneofName = (typeof ONEOF_NAMES)[number];

function fromEnvelope(envelope: Fields): Record<string, unknown> {
  const set = envelope.frame; // protobufjs's oneof getter: the member set last on the wire
  if (typeof set !== 'string' || !(ONEOF_NAMES as readonly string[]).includes(set)) throw new TypeError('protobuf Envelope carries no frame');
  const name = set as OneofName;
  const m = envelope[name] as Fields;
  switch (name) {
    case 'sub': {
      const frame: Record<string, unknown> = { t: 'sub', id: int(m.id), channel: m.channel };
      const since = m.since as Fields | null;
      if (since) frame.since = { epoch: since.epoch, offset: int(since.offset) };
      if (m.presence !== null && m.presence !== undefined) frame.presence = m.presence;
      return frame;
    }
    case 'unsub':
    case 'presence':
      return { t: name, id: int(m.id), channel: m.channel };
    case 'pub':
      return { t: 'pub', id: int(m.id), channel: m.channel, pid: m.pid, data: unpack(m.data) };
    case 'ping':
    case 'pong':
      return { t: name };
    case 'rpc':
      return { t: 'rpc', id: int(m.id), method: m.method, params: unpack(m.params) };
    case 'cancel':
      return { t: 'cancel', id: int(m.id) };
    case 'result':
      return { t: 'result', id: int(m.id), result: unpack(m.result) };
    case 'error':
      return { t: 'error', id: int(m.id), error: fromErrorInfo(m.error) };
    case 'hello':
      return { t: 'hello', version: int(m.version), session: m.session, heartbeatMs: int(m.heartbeatMs) };
    case 'publication':
      return { t: 'pub', channel: m.channel, epoch: m.epoch, offset: int(m.offset), data: unpack(m.data) };
    case 'join':
    case 'leave':
      return { t: name, channel: m.channel, member: fromMember(m.member) };
    case 'unsubscribed':
      return { t: 'unsubscribed', channel: m.channel, reason: fromErrorInfo(m.reason) };
    default:
      return unknownOneof(name);
  }
}

function unknownOneof(name: never): never {
  throw new TypeError(`protobuf Envelope member ${String(name)} has no frame`);
}

function fromErrorInfo(value: unknown): Record<string, unknown> | undefined {
  if (!value) return undefined; // missing: the envelope decoder reports it
  const info = value as Fields;
  const out: Record<string, unknown> = { code: info.code, message: info.message };
  const details = unpack(info.details);
  if (details !== undefined) out.details = details;
  return out;
}

function fromMember(value: unknown): Record<string, unknown> | undefined {
  if (!value) return undefined;
  const m = value as Fields;
  const out: Record<string, unknown> = { clientId: m.clientId };
  if (m.userId !== null && m.userId !== undefined) out.userId = m.userId;
  const info = unpack(m.info);
  if (info !== undefined) out.info = info;
  return out;
}

/** uint64 to number; beyond 2^53 it is inexact, and the envelope decoder rejects it as unsafe. */
function int(value: unknown): number {
  if (typeof value === 'number') return value;
  return (value as Exclude<Uint64, number>).toNumber();
}
