// fast-check arbitraries of valid wire frames (src/realtime/envelope.ts), for the decoder's and the
// codecs' round-trip properties. Application values come from a pluggable arbitrary: JSON values
// for every codec, JSON values plus bytes for the binary ones.

import fc from 'fast-check';
import { isChannelName } from '../../src/realtime/channel-name.js';
import type { ClientFrame, ErrorInfo, PresenceMember, PublicationFrame, ServerFrame } from '../../src/realtime/envelope.js';
import { EnvelopeLimits } from '../../src/realtime/envelope-limits.js';

/** Request ids, offsets and the like: small ones, and up to 2^53-1. */
export const integerArb = fc.oneof(fc.nat(1000), fc.maxSafeNat(), fc.constant(EnvelopeLimits.maxInteger));

/** Identifiers: short Unicode ones, and ones of exactly the longest length. */
export const nameArb = fc.oneof(
  { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 24, unit: 'binary' }) },
  { weight: 1, arbitrary: fc.string({ minLength: EnvelopeLimits.maxNameLength, maxLength: EnvelopeLimits.maxNameLength }) },
).filter((name) => name.length >= 1 && name.length <= EnvelopeLimits.maxNameLength);

export const channelArb = fc.oneof(
  { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 24, unit: 'grapheme' }) },
  { weight: 1, arbitrary: fc.string({ minLength: EnvelopeLimits.maxChannelNameLength, maxLength: EnvelopeLimits.maxChannelNameLength }) },
).filter(isChannelName);

const keyArb = fc.string({ maxLength: 8, unit: 'binary' }).filter((key) => key !== '__proto__');
// No -0: JSON and MessagePack both write it as 0.
const numberArb = fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)));

/** A value as application data: plain objects, arrays, strings, numbers, booleans, null, and optionally extra leaves. */
export function appValueArb(extraLeaf?: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const leaves: fc.Arbitrary<unknown>[] = [fc.constant(null), fc.boolean(), numberArb, fc.string({ maxLength: 16, unit: 'binary' })];
  if (extraLeaf) leaves.push(extraLeaf);
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth: 4 },
      ...leaves,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(keyArb, tie('value'), { maxKeys: 4, noNullPrototype: true }),
    ),
  }));
  return value;
}

export const jsonValueArb = appValueArb();
export const binaryValueArb = appValueArb(fc.uint8Array({ maxLength: 16 }).map((bytes) => new Uint8Array(bytes)));

function errorInfoArb(value: fc.Arbitrary<unknown>): fc.Arbitrary<ErrorInfo> {
  return fc.record(
    { code: nameArb, message: fc.string({ maxLength: 40, unit: 'binary' }), details: value },
    { requiredKeys: ['code', 'message'], noNullPrototype: true },
  );
}

function memberArb(value: fc.Arbitrary<unknown>): fc.Arbitrary<PresenceMember> {
  return fc.record({ clientId: nameArb, userId: nameArb, info: value }, { requiredKeys: ['clientId'], noNullPrototype: true });
}

/** Decoded frames are plain objects: compare against plain ones. */
const PLAIN = { noNullPrototype: true } as const;

const positionArb = fc.record({ epoch: nameArb, offset: integerArb }, PLAIN);

export function publicationArb(value: fc.Arbitrary<unknown>): fc.Arbitrary<PublicationFrame> {
  return fc.record({ t: fc.constant('pub' as const), channel: channelArb, epoch: nameArb, offset: integerArb, data: value }, PLAIN);
}

export function clientFrameArb(value: fc.Arbitrary<unknown>): fc.Arbitrary<ClientFrame> {
  return fc.oneof(
    fc.record(
      { t: fc.constant('sub' as const), id: integerArb, channel: channelArb, since: positionArb, presence: fc.boolean() },
      { requiredKeys: ['t', 'id', 'channel'], noNullPrototype: true },
    ),
    fc.record({ t: fc.constant('unsub' as const), id: integerArb, channel: channelArb }, PLAIN),
    fc.record({ t: fc.constant('pub' as const), id: integerArb, channel: channelArb, pid: nameArb, data: value }, PLAIN),
    fc.record({ t: fc.constant('rpc' as const), id: integerArb, method: nameArb, params: value }, PLAIN),
    fc.record({ t: fc.constant('cancel' as const), id: integerArb }, PLAIN),
    fc.record({ t: fc.constant('presence' as const), id: integerArb, channel: channelArb }, PLAIN),
    fc.record({ t: fc.constant('result' as const), id: integerArb, result: value }, PLAIN),
    fc.record({ t: fc.constant('error' as const), id: integerArb, error: errorInfoArb(value) }, PLAIN),
    fc.constant({ t: 'ping' as const }),
  );
}

export function serverFrameArb(value: fc.Arbitrary<unknown>): fc.Arbitrary<ServerFrame> {
  return fc.oneof(
    fc.record({ t: fc.constant('hello' as const), version: integerArb, session: nameArb, heartbeatMs: integerArb }, PLAIN),
    publicationArb(value),
    fc.record({ t: fc.constant('result' as const), id: integerArb, result: value }, PLAIN),
    fc.record({ t: fc.constant('error' as const), id: integerArb, error: errorInfoArb(value) }, PLAIN),
    fc.record({ t: fc.constant('join' as const), channel: channelArb, member: memberArb(value) }, PLAIN),
    fc.record({ t: fc.constant('leave' as const), channel: channelArb, member: memberArb(value) }, PLAIN),
    fc.record({ t: fc.constant('rpc' as const), id: integerArb, method: nameArb, params: value }, PLAIN),
    fc.record({ t: fc.constant('cancel' as const), id: integerArb }, PLAIN),
    fc.record({ t: fc.constant('unsubscribed' as const), channel: channelArb, reason: errorInfoArb(value) }, PLAIN),
    fc.constant({ t: 'pong' as const }),
  );
}

/** One example of every frame type, with `data` as application data wherever a frame carries some. */
export function everyFrame(data: unknown): { client: ClientFrame[]; server: ServerFrame[] } {
  // Optional application values are left out rather than set to undefined (decoded frames have no such keys).
  const error: ErrorInfo = data === undefined ? { code: 'FORBIDDEN', message: 'no' } : { code: 'FORBIDDEN', message: 'no', details: data };
  const member: PresenceMember = data === undefined ? { clientId: 'c1', userId: 'u1' } : { clientId: 'c1', userId: 'u1', info: data };
  return {
    client: [
      { t: 'sub', id: 1, channel: 'room', since: { epoch: 'e1', offset: 41 }, presence: true },
      { t: 'sub', id: 2, channel: 'room' },
      { t: 'unsub', id: 3, channel: 'room' },
      { t: 'pub', id: 4, channel: 'room', pid: 'k3f9:1', data },
      { t: 'rpc', id: 5, method: 'sum', params: data },
      { t: 'cancel', id: 5 },
      { t: 'presence', id: 6, channel: 'room' },
      { t: 'result', id: 7, result: data },
      { t: 'error', id: 8, error },
      { t: 'error', id: 9, error: { code: 'INTERNAL', message: '' } },
      { t: 'ping' },
    ],
    server: [
      { t: 'hello', version: 1, session: 's1', heartbeatMs: 25_000 },
      { t: 'pub', channel: 'room', epoch: 'e1', offset: 42, data },
      { t: 'result', id: 1, result: data },
      { t: 'error', id: 2, error },
      { t: 'join', channel: 'room', member },
      { t: 'leave', channel: 'room', member: { clientId: 'c2' } },
      { t: 'rpc', id: 3, method: 'confirm', params: data },
      { t: 'cancel', id: 3 },
      { t: 'unsubscribed', channel: 'room', reason: error },
      { t: 'pong' },
    ],
  };
}
