// The MessagePack codec (subprotocol `tidewire.v1.msgpack`, docs/protocol.md) over msgpackr,
// restricted to plain MessagePack so that any language's library can speak it: no msgpackr
// records or extensions on the wire, and decode throws on anything else or on trailing bytes.

import { Packr } from 'msgpackr';
import type { Codec } from '../realtime/codec.js';

/** Deepest nesting of arrays and maps decode accepts (msgpackr decodes recursively). */
export const MAX_MSGPACK_DEPTH = 512;

/** The one MessagePack extension accepted: the timestamp (type -1), with its three sizes. */
const TIMESTAMP_TYPE = 0xff;
const TIMESTAMP_SIZES: ReadonlySet<number> = new Set([4, 8, 12]);

const packr = new Packr({
  useRecords: false, // plain maps, not msgpackr's record extension
  moreTypes: false,
  structuredClone: false, // no reference extensions: a peer cannot make cyclic values
  mapsAsObjects: true,
  encodeUndefinedAsNil: true, // undefined in arrays becomes nil, as in JSON
  // Properties whose value is undefined are left out, as JSON does (and maps get their shortest header).
  skipValues: [undefined],
  int64AsType: 'number', // 64-bit integers decode to numbers; the envelope decoder rejects unsafe ones
  copyBuffers: true, // decoded bytes do not pin the whole received message
} as ConstructorParameters<typeof Packr>[0]);

/** MessagePack bytes of one application value (also the protobuf codec's `bytes` payloads). */
export function packValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** The value of exactly one plain MessagePack item; throws on malformed input or trailing bytes. */
export function unpackValue(bytes: Uint8Array): unknown {
  checkPlainMessagePack(bytes);
  // A plain Uint8Array view (not a Node Buffer): decoded `bin` values are then plain Uint8Arrays
  // on every platform, so bytes round-trip as bytes.
  const view = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return packr.unpack(view) as unknown;
}

export const msgpackCodec: Codec = {
  name: 'msgpack',
  binary: true,
  encode: (frame) => packValue(frame),
  decode: (message) => {
    if (typeof message === 'string') throw new TypeError('tidewire.v1.msgpack frames are binary messages, got text');
    return unpackValue(message);
  },
};

/**
 * One pass over the items without building them: exactly one complete item, no reserved byte
 * (0xc1), no extension but the timestamp, nesting within MAX_MSGPACK_DEPTH. msgpackr alone would
 * accept 0xc1 and its own extensions (records, sets, regular expressions …) from any peer.
 * Written as one flat loop over locals: it runs on every received message.
 */
function checkPlainMessagePack(bytes: Uint8Array): void {
  const end = bytes.length;
  let open: number[] | null = null; // items still to read in each enclosing array or map
  let depth = 0;
  let remaining = 1; // items still to read at the current depth
  let p = 0;
  for (;;) {
    if (remaining === 0) {
      if (depth === 0) {
        if (p !== end) throw new RangeError(`${end - p} bytes after the MessagePack item`);
        return;
      }
      remaining = open![--depth]!;
      continue;
    }
    if (p >= end) throw truncated();
    const token = bytes[p++]!;
    remaining -= 1;
    let items = 0;
    if (token < 0x80 || token >= 0xe0) continue; // fixint
    if (token < 0x90) items = (token & 0x0f) * 2; // fixmap
    else if (token < 0xa0) items = token & 0x0f; // fixarray
    else if (token < 0xc0) p += token & 0x1f; // fixstr
    else {
      switch (token) {
        case 0xc0: case 0xc2: case 0xc3: break; // nil, false, true
        case 0xc1: throw new TypeError('MessagePack byte 0xc1 is never used');
        case 0xc4: case 0xd9: p = skip(bytes, p + 1, uint(bytes, p, 1)); break; // bin 8, str 8
        case 0xc5: case 0xda: p = skip(bytes, p + 2, uint(bytes, p, 2)); break;
        case 0xc6: case 0xdb: p = skip(bytes, p + 4, uint(bytes, p, 4)); break;
        case 0xc7: p = extension(bytes, p + 1, uint(bytes, p, 1)); break; // ext 8, 16, 32
        case 0xc8: p = extension(bytes, p + 2, uint(bytes, p, 2)); break;
        case 0xc9: p = extension(bytes, p + 4, uint(bytes, p, 4)); break;
        case 0xcc: case 0xd0: p += 1; break;
        case 0xcd: case 0xd1: p += 2; break;
        case 0xca: case 0xce: case 0xd2: p += 4; break;
        case 0xcb: case 0xcf: case 0xd3: p += 8; break;
        case 0xd4: p = extension(bytes, p, 1); break; // fixext 1, 2, 4, 8, 16
        case 0xd5: p = extension(bytes, p, 2); break;
        case 0xd6: p = extension(bytes, p, 4); break;
        case 0xd7: p = extension(bytes, p, 8); break;
        case 0xd8: p = extension(bytes, p, 16); break;
        case 0xdc: items = uint(bytes, p, 2); p += 2; break; // array 16, 32
        case 0xdd: items = uint(bytes, p, 4); p += 4; break;
        case 0xde: items = uint(bytes, p, 2) * 2; p += 2; break; // map 16, 32
        case 0xdf: items = uint(bytes, p, 4) * 2; p += 4; break;
        default: throw new TypeError(`unexpected MessagePack byte ${token}`);
      }
    }
    if (p > end) throw truncated();
    if (items > 0) {
      // Every item takes at least one byte: a count beyond the rest is truncated (or a lie).
      if (items > end - p) throw truncated();
      if (depth === MAX_MSGPACK_DEPTH) throw new RangeError(`MessagePack nesting deeper than ${MAX_MSGPACK_DEPTH}`);
      (open ??= [])[depth++] = remaining;
      remaining = items;
    }
  }
}

/** The big-endian unsigned integer of `size` bytes at `p`. */
function uint(bytes: Uint8Array, p: number, size: number): number {
  if (p + size > bytes.length) throw truncated();
  let value = 0;
  for (let k = 0; k < size; k++) value = value * 256 + bytes[p + k]!;
  return value;
}

/** Past a payload of `length` bytes starting at `p`. */
function skip(bytes: Uint8Array, p: number, length: number): number {
  if (p + length > bytes.length) throw truncated();
  return p + length;
}

/** Past an extension's type byte (at `p`) and its `size` bytes of data; only the timestamp passes. */
function extension(bytes: Uint8Array, p: number, size: number): number {
  const type = uint(bytes, p, 1);
  if (type !== TIMESTAMP_TYPE || !TIMESTAMP_SIZES.has(size)) throw new TypeError(`MessagePack extension type ${type} (size ${size}) is not accepted`);
  return skip(bytes, p + 1, size);
}

function truncated(): RangeError {
  return new RangeError('MessagePack data ends inside an item');
}
