// How RedisBroker stores values in Redis. Application data and presence members are plain
// MessagePack (msgpackr with the options of src/codecs/msgpack-codec.ts, which this L3 folder may
// not import): compact, binary-safe (Uint8Array stays bytes), and the same bytes for any client codec.
// A publication payload, written by the publish script, is one binary string shared by the stream
// entry and the pub/sub message: `<offset> <time> <epoch> <pid byte length> <pid><data>`.

import { Packr } from 'msgpackr';
import type { BrokerPublication, PresenceEvent } from '../../realtime/broker.js';
import type { PresenceMember } from '../../realtime/envelope.js';

const packr = new Packr({
  useRecords: false,
  moreTypes: false,
  structuredClone: false,
  mapsAsObjects: true,
  encodeUndefinedAsNil: true,
  skipValues: [undefined],
  int64AsType: 'number',
  copyBuffers: true,
} as ConstructorParameters<typeof Packr>[0]);

const SPACE = 0x20;

export function encodeValue(value: unknown): Buffer {
  return packr.pack(value);
}

export function decodeValue(bytes: Uint8Array): unknown {
  // A plain Uint8Array view: decoded `bin` values are then Uint8Arrays, not Buffers.
  return packr.unpack(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as unknown;
}

/** Decodes a payload written by the publish script. Throws on a malformed one. */
export function decodePublication(channel: string, payload: Buffer): BrokerPublication {
  let start = 0;
  const field = (): string => {
    const end = payload.indexOf(SPACE, start);
    if (end === -1) throw new RangeError(`malformed publication payload in channel ${channel}`);
    const text = payload.toString('latin1', start, end);
    start = end + 1;
    return text;
  };
  const offset = Number(field());
  const time = Number(field());
  const epoch = field();
  const pidBytes = Number(field());
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(time) || !Number.isSafeInteger(pidBytes) || start + pidBytes > payload.length) {
    throw new RangeError(`malformed publication payload in channel ${channel}`);
  }
  const publication: BrokerPublication = { channel, epoch, offset, data: decodeValue(payload.subarray(start + pidBytes)), time };
  if (pidBytes > 0) publication.pid = payload.toString('utf8', start, start + pidBytes);
  return publication;
}

/** `epoch offset`, as the publish script returns it and keeps it under a publish id. */
export function decodePosition(reply: Buffer): { epoch: string; offset: number } {
  const text = reply.toString('latin1');
  const space = text.indexOf(' ');
  const offset = Number(text.slice(space + 1));
  if (space <= 0 || !Number.isSafeInteger(offset)) throw new RangeError(`malformed position ${JSON.stringify(text)}`);
  return { epoch: text.slice(0, space), offset };
}

export function encodeMember(member: PresenceMember): Buffer {
  const plain: PresenceMember = { clientId: member.clientId };
  if (member.userId !== undefined) plain.userId = member.userId;
  if (member.info !== undefined) plain.info = member.info;
  return encodeValue(plain);
}

export function decodeMember(bytes: Uint8Array): PresenceMember {
  const value = decodeValue(bytes);
  if (typeof value !== 'object' || value === null || typeof (value as PresenceMember).clientId !== 'string') {
    throw new TypeError('malformed presence member');
  }
  return value as PresenceMember;
}

/** A presence event as the scripts publish it: 'j' (join) or 'l' (leave), then the encoded member. */
export function decodePresenceEvent(channel: string, payload: Buffer): PresenceEvent {
  const kind = payload[0];
  if (kind !== 0x6a && kind !== 0x6c) throw new RangeError(`malformed presence event in channel ${channel}`);
  return { type: kind === 0x6a ? 'join' : 'leave', channel, member: decodeMember(payload.subarray(1)) };
}
