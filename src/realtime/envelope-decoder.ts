// The edge where wire input stops being `unknown` (docs/protocol.md): a codec's output in, a
// checked ClientFrame / ServerFrame out, or the reason it is not one. Every field of envelope.ts is
// checked; only known fields are copied, so extra ones are ignored and never reach the core.

import { channelNameProblem } from './channel-name.js';
import type {
  ClientFrame,
  ClientFrameType,
  ErrorInfo,
  PresenceMember,
  PublicationFrame,
  PublishResult,
  ServerFrame,
  ServerFrameType,
  StreamPosition,
  SubscribeResult,
} from './envelope.js';
import { EnvelopeLimits } from './envelope-limits.js';

/** `id`: the request id to answer with BAD_REQUEST, undefined when the frame has none (close with 1008). */
export type ClientFrameDecoding = { ok: true; frame: ClientFrame } | { ok: false; id: number | undefined; reason: string };
export type ServerFrameDecoding = { ok: true; frame: ServerFrame } | { ok: false; reason: string };
export type ResultDecoding<T> = { ok: true; result: T } | { ok: false; reason: string };

type Fields = { readonly [field: string]: unknown };

/** Thrown and caught inside this file only: a field is not what the envelope says. */
class FrameProblem {
  constructor(readonly reason: string) {}
}

// Mapped types: adding a frame type to envelope.ts fails to compile here until it is decoded.
const CLIENT_FRAME_TYPES: { readonly [T in ClientFrameType]: true } = {
  sub: true, unsub: true, pub: true, rpc: true, cancel: true, presence: true, result: true, error: true, ping: true,
};
const SERVER_FRAME_TYPES: { readonly [T in ServerFrameType]: true } = {
  hello: true, pub: true, result: true, error: true, join: true, leave: true, rpc: true, cancel: true, unsubscribed: true, pong: true,
};

export function decodeClientFrame(value: unknown): ClientFrameDecoding {
  try {
    return { ok: true, frame: readClientFrame(fieldsOf(value, 'a frame')) };
  } catch (error) {
    return { ok: false, id: requestIdOf(value), reason: reasonOf(error) };
  }
}

export function decodeServerFrame(value: unknown): ServerFrameDecoding {
  try {
    return { ok: true, frame: readServerFrame(fieldsOf(value, 'a frame')) };
  } catch (error) {
    return { ok: false, reason: reasonOf(error) };
  }
}

/** The `result` answering a `sub`. */
export function decodeSubscribeResult(value: unknown): ResultDecoding<SubscribeResult> {
  return decodeResult(value, readSubscribeResult);
}

/** The `result` answering a client `pub`. */
export function decodePublishResult(value: unknown): ResultDecoding<PublishResult> {
  return decodeResult(value, (v) => {
    const fields = fieldsOf(v, 'result');
    return { epoch: name(fields.epoch, 'result.epoch'), offset: integer(fields.offset, 'result.offset') };
  });
}

/** The `result` answering a `presence` request. */
export function decodePresenceMembers(value: unknown): ResultDecoding<PresenceMember[]> {
  return decodeResult(value, (v) => arrayOf(v, 'result', readMember));
}

function readClientFrame(v: Fields): ClientFrame {
  const t = frameType(v.t, CLIENT_FRAME_TYPES);
  switch (t) {
    case 'sub': {
      const frame: ClientFrame & { t: 'sub' } = { t, id: integer(v.id, 'id'), channel: channel(v.channel, 'channel') };
      const since = optional(v.since, 'since', readPosition);
      if (since !== undefined) frame.since = since;
      const presence = optional(v.presence, 'presence', boolean);
      if (presence !== undefined) frame.presence = presence;
      return frame;
    }
    case 'unsub':
    case 'presence':
      return { t, id: integer(v.id, 'id'), channel: channel(v.channel, 'channel') };
    case 'pub':
      return { t, id: integer(v.id, 'id'), channel: channel(v.channel, 'channel'), pid: name(v.pid, 'pid'), data: v.data };
    case 'rpc':
      return { t, id: integer(v.id, 'id'), method: name(v.method, 'method'), params: v.params };
    case 'cancel':
      return { t, id: integer(v.id, 'id') };
    case 'result':
      return { t, id: integer(v.id, 'id'), result: v.result };
    case 'error':
      return { t, id: integer(v.id, 'id'), error: readErrorInfo(v.error, 'error') };
    case 'ping':
      return { t };
    default:
      return unreachable(t);
  }
}

function readServerFrame(v: Fields): ServerFrame {
  const t = frameType(v.t, SERVER_FRAME_TYPES);
  switch (t) {
    case 'hello':
      return { t, version: integer(v.version, 'version'), session: name(v.session, 'session'), heartbeatMs: integer(v.heartbeatMs, 'heartbeatMs') };
    case 'pub':
      return readPublication(v, '');
    case 'result':
      return { t, id: integer(v.id, 'id'), result: v.result };
    case 'error':
      return { t, id: integer(v.id, 'id'), error: readErrorInfo(v.error, 'error') };
    case 'join':
    case 'leave':
      return { t, channel: channel(v.channel, 'channel'), member: readMember(v.member, 'member') };
    case 'rpc':
      return { t, id: integer(v.id, 'id'), method: name(v.method, 'method'), params: v.params };
    case 'cancel':
      return { t, id: integer(v.id, 'id') };
    case 'unsubscribed':
      return { t, channel: channel(v.channel, 'channel'), reason: readErrorInfo(v.reason, 'reason') };
    case 'pong':
      return { t };
    default:
      return unreachable(t);
  }
}

function readSubscribeResult(value: unknown): SubscribeResult {
  const v = fieldsOf(value, 'result');
  const result: SubscribeResult = {
    epoch: name(v.epoch, 'result.epoch'),
    offset: integer(v.offset, 'result.offset'),
    recovered: boolean(v.recovered, 'result.recovered'),
    publications: arrayOf(v.publications, 'result.publications', (p, path) => {
      const fields = fieldsOf(p, path);
      if (fields.t !== 'pub') throw new FrameProblem(`${path}.t must be "pub"`);
      return readPublication(fields, `${path}.`);
    }),
  };
  const members = optional(v.members, 'result.members', (m, path) => arrayOf(m, path, readMember));
  if (members !== undefined) result.members = members;
  return result;
}

function readPublication(v: Fields, prefix: string): PublicationFrame {
  return {
    t: 'pub',
    channel: channel(v.channel, `${prefix}channel`),
    epoch: name(v.epoch, `${prefix}epoch`),
    offset: integer(v.offset, `${prefix}offset`),
    data: v.data,
  };
}

function readPosition(value: unknown, path: string): StreamPosition {
  const v = fieldsOf(value, path);
  return { epoch: name(v.epoch, `${path}.epoch`), offset: integer(v.offset, `${path}.offset`) };
}

function readErrorInfo(value: unknown, path: string): ErrorInfo {
  const v = fieldsOf(value, path);
  const info: ErrorInfo = { code: name(v.code, `${path}.code`), message: string(v.message, `${path}.message`) };
  // An application value: null is a value here, only a missing field means "no details".
  if (v.details !== undefined) info.details = v.details;
  return info;
}

function readMember(value: unknown, path: string): PresenceMember {
  const v = fieldsOf(value, path);
  const member: PresenceMember = { clientId: name(v.clientId, `${path}.clientId`) };
  const userId = optional(v.userId, `${path}.userId`, name);
  if (userId !== undefined) member.userId = userId;
  if (v.info !== undefined) member.info = v.info;
  return member;
}

// ---- field readers: each returns the checked value or throws FrameProblem naming the field ----

function frameType<T extends string>(value: unknown, known: { readonly [K in T]: true }): T {
  if (typeof value === 'string' && Object.hasOwn(known, value)) return value as T;
  throw new FrameProblem(value === undefined ? 't is missing' : `unknown frame type ${describe(value)}`);
}

function fieldsOf(value: unknown, path: string): Fields {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value)) return value as Fields;
  throw problem(path, 'an object', value);
}

function integer(value: unknown, path: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw problem(path, `an integer in 0..${EnvelopeLimits.maxInteger}`, value);
}

/** A non-empty identifier of bounded length (method, pid, epoch, session, clientId, userId, error code). */
function name(value: unknown, path: string): string {
  if (typeof value === 'string' && value.length > 0 && value.length <= EnvelopeLimits.maxNameLength) return value;
  throw problem(path, `a string of 1..${EnvelopeLimits.maxNameLength} characters`, value);
}

function channel(value: unknown, path: string): string {
  const why = channelNameProblem(value);
  if (why === undefined) return value as string;
  throw new FrameProblem(value === undefined ? `${path} is missing` : `${path} ${why}`);
}

function string(value: unknown, path: string): string {
  if (typeof value === 'string') return value;
  throw problem(path, 'a string', value);
}

function boolean(value: unknown, path: string): boolean {
  if (typeof value === 'boolean') return value;
  throw problem(path, 'a boolean', value);
}

/** Optional typed fields: missing and null (which some encoders write for "none") both mean absent. */
function optional<T>(value: unknown, path: string, read: (value: unknown, path: string) => T): T | undefined {
  return value === undefined || value === null ? undefined : read(value, path);
}

function arrayOf<T>(value: unknown, path: string, read: (item: unknown, path: string) => T): T[] {
  if (!Array.isArray(value)) throw problem(path, 'an array', value);
  return value.map((item, index) => read(item, `${path}[${index}]`));
}

function problem(path: string, expected: string, value: unknown): FrameProblem {
  return new FrameProblem(value === undefined ? `${path} is missing` : `${path} must be ${expected}, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value.length <= 32 ? JSON.stringify(value) : `a string of ${value.length} characters`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return 'bytes';
  return `a value of type ${typeof value}`;
}

/** The id a BAD_REQUEST reply can carry: a readable request id; never the id of an answer (its id is the server's). */
function requestIdOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { t, id } = value as Fields;
  if (t === 'result' || t === 'error') return undefined;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : undefined;
}

function decodeResult<T>(value: unknown, read: (value: unknown, path: string) => T): ResultDecoding<T> {
  try {
    return { ok: true, result: read(value, 'result') };
  } catch (error) {
    return { ok: false, reason: reasonOf(error) };
  }
}

function reasonOf(error: unknown): string {
  // Anything but a FrameProblem would be a bug here; it still must not escape to the caller.
  return error instanceof FrameProblem ? error.reason : 'malformed frame';
}

function unreachable(value: never): never {
  throw new FrameProblem(`unknown frame type ${describe(value)}`);
}
