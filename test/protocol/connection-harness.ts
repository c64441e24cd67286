// Test support for the sans-I/O Connection: builds wire frames by hand (independently of
// frame-writer), records every event in order, and decodes the bytes the connection wrote.

import { Connection, type ConnectionEvents, type Role } from '../../src/protocol/connection.js';
import type { LimitExceededError, PeerError } from '../../src/protocol/errors.js';
import { DEFAULT_LIMITS, type Limits } from '../../src/protocol/limits.js';

/** Bytes from spaced hex ("81 85 37 fa"), in a buffer of their own (no shared pool). */
export function hex(text: string): Buffer {
  const clean = text.replace(/\s+/g, '');
  if (!/^(?:[0-9a-f]{2})*$/i.test(clean)) throw new Error(`bad hex: ${text}`);
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return Buffer.from(bytes.buffer);
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

/** A copy of `bytes` in a buffer of its own. */
export function ownCopy(bytes: Uint8Array): Buffer {
  return Buffer.from(new Uint8Array(bytes).buffer);
}

export function concatOwn(chunks: readonly Uint8Array[]): Buffer {
  return ownCopy(Buffer.concat(chunks));
}

export interface FrameSpec {
  fin?: boolean;
  /** The three reserved bits as they sit in the first byte (0x40 = RSV1). */
  rsv?: number;
  opcode: number;
  payload?: Uint8Array | string;
  /** null (default) sends the frame unmasked. */
  maskKey?: Uint8Array | null;
  /** Claim this payload length in the header but put only `payload` after it. */
  declaredLength?: number;
}

/** Encodes a frame the slow, obvious way (RFC 6455 §5.2). */
export function frame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload, 'utf8') : Buffer.from(spec.payload ?? []);
  const length = spec.declaredLength ?? payload.length;
  const bytes: number[] = [((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv ?? 0) | spec.opcode];
  const maskBit = spec.maskKey ? 0x80 : 0;
  if (length < 126) {
    bytes.push(maskBit | length);
  } else if (length < 0x10000) {
    bytes.push(maskBit | 126, length >> 8, length & 0xff);
  } else {
    bytes.push(maskBit | 127);
    const high = Math.floor(length / 2 ** 32);
    const low = length % 2 ** 32;
    for (const word of [high, low]) bytes.push((word >>> 24) & 0xff, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff);
  }
  if (spec.maskKey) bytes.push(...spec.maskKey);
  for (let i = 0; i < payload.length; i++) bytes.push(spec.maskKey ? payload[i]! ^ spec.maskKey[i % 4]! : payload[i]!);
  return ownCopy(Uint8Array.from(bytes));
}

/** A close payload: big-endian code, then the reason. */
export function closePayload(code: number, reason: Uint8Array | string = ''): Buffer {
  const reasonBytes = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : Buffer.from(reason);
  return Buffer.concat([Buffer.from([code >> 8, code & 0xff]), reasonBytes]);
}

export interface WireFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  maskKey: Buffer | null;
  /** Unmasked. */
  payload: Buffer;
}

/** Decodes a byte stream into whole frames; throws if it does not end on a frame boundary. */
export function decodeFrames(bytes: Uint8Array): WireFrame[] {
  const frames: WireFrame[] = [];
  const data = Buffer.from(bytes);
  let at = 0;
  while (at < data.length) {
    if (data.length - at < 2) throw new Error(`truncated header at ${at}`);
    const b0 = data[at]!;
    const b1 = data[at + 1]!;
    let length = b1 & 0x7f;
    let position = at + 2;
    if (length === 126) {
      length = data.readUInt16BE(position);
      position += 2;
    } else if (length === 127) {
      length = Number(data.readBigUInt64BE(position));
      position += 8;
    }
    let maskKey: Buffer | null = null;
    if (b1 & 0x80) {
      maskKey = data.subarray(position, position + 4);
      position += 4;
    }
    if (position + length > data.length) throw new Error(`truncated payload at ${at}`);
    const payload = Buffer.from(data.subarray(position, position + length));
    if (maskKey) for (let i = 0; i < payload.length; i++) payload[i]! ^= maskKey[i % 4]!;
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, maskKey, payload });
    at = position + length;
  }
  return frames;
}

/** The code of a decoded close frame (1005 when it has none). */
export function closeCodeOf(wire: WireFrame): number {
  return wire.payload.length >= 2 ? wire.payload.readUInt16BE(0) : 1005;
}

export type RecordedEvent =
  /** `data` is a copy taken when the event fired; `view` is the buffer the connection handed out. */
  | { type: 'message'; data: Buffer; isBinary: boolean; view: Buffer }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'closeFrame'; code: number; reason: string }
  | { type: 'failure'; error: PeerError | LimitExceededError }
  | { type: 'write'; chunk: Buffer }
  | { type: 'end' }
  | { type: 'closeExpected' }
  | { type: 'inflate'; payload: Buffer; fin: boolean };

export type EventType = RecordedEvent['type'];

export interface HarnessOptions {
  role: Role;
  limits?: Partial<Pick<Limits, 'maxMessageBytes' | 'maxFragmentsPerMessage'>>;
  compression?: boolean;
  /** Mask keys handed out in turn (client role); the last one repeats. */
  maskKeys?: Uint8Array[];
  /** Called after an `inflate` event was recorded (to answer it synchronously, for instance). */
  onInflate?: (payload: Buffer, fin: boolean) => void;
}

/** A Connection whose events are all recorded, in order. Message data is copied when recorded. */
export class ConnectionHarness {
  readonly events: RecordedEvent[] = [];
  readonly connection: Connection;
  readonly maskKeysUsed: Buffer[] = [];

  constructor(options: HarnessOptions) {
    const limits = {
      maxMessageBytes: options.limits?.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes,
      maxFragmentsPerMessage: options.limits?.maxFragmentsPerMessage ?? DEFAULT_LIMITS.maxFragmentsPerMessage,
    };
    const keys = options.maskKeys;
    let nextKey = 0;
    const maskKey =
      keys === undefined
        ? undefined
        : (): Uint8Array => {
            const key = keys[Math.min(nextKey++, keys.length - 1)]!;
            this.maskKeysUsed.push(Buffer.from(key));
            return key;
          };
    const record = (event: RecordedEvent): void => void this.events.push(event);
    const events: ConnectionEvents = {
      message: (data, isBinary) => record({ type: 'message', data: Buffer.from(data), isBinary, view: data }),
      ping: (data) => record({ type: 'ping', data: Buffer.from(data) }),
      pong: (data) => record({ type: 'pong', data: Buffer.from(data) }),
      closeFrame: (code, reason) => record({ type: 'closeFrame', code, reason }),
      failure: (error) => record({ type: 'failure', error }),
      write: (chunk) => record({ type: 'write', chunk: Buffer.from(chunk) }),
      end: () => record({ type: 'end' }),
      closeExpected: () => record({ type: 'closeExpected' }),
      inflate: (payload, fin) => {
        record({ type: 'inflate', payload: Buffer.from(payload), fin });
        options.onInflate?.(payload, fin);
      },
    };
    const connectionOptions = { role: options.role, limits, compression: options.compression ?? false };
    this.connection = new Connection(maskKey === undefined ? connectionOptions : { ...connectionOptions, maskKey }, events);
  }

  feed(...chunks: Buffer[]): void {
    for (const chunk of chunks) this.connection.receiveData(chunk);
  }

  feedHex(text: string): void {
    this.connection.receiveData(hex(text));
  }

  /** Every byte written so far, in order. */
  get written(): Buffer {
    return Buffer.concat(this.events.flatMap((event) => (event.type === 'write' ? [event.chunk] : [])));
  }

  get writtenHex(): string {
    return toHex(this.written);
  }

  writtenFrames(): WireFrame[] {
    return decodeFrames(this.written);
  }

  /** Event types in order, writes left out. */
  get types(): EventType[] {
    return this.events.filter((event) => event.type !== 'write').map((event) => event.type);
  }

  /** Event types in order, writes included. */
  get allTypes(): EventType[] {
    return this.events.map((event) => event.type);
  }

  of<T extends EventType>(type: T): Extract<RecordedEvent, { type: T }>[] {
    return this.events.filter((event): event is Extract<RecordedEvent, { type: T }> => event.type === type);
  }

  /** The one failure recorded (throws if there is not exactly one). */
  get failure(): PeerError | LimitExceededError {
    const failures = this.of('failure');
    if (failures.length !== 1) throw new Error(`expected one failure, got ${failures.length}`);
    return failures[0]!.error;
  }

  /** Codes of the close frames written so far. */
  get closeCodesWritten(): number[] {
    return this.writtenFrames()
      .filter((wire) => wire.opcode === 0x8)
      .map(closeCodeOf);
  }

  clear(): void {
    this.events.length = 0;
  }
}
