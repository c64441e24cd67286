// permessage-deflate on the raw peer's side (RFC 7692): parsing the negotiation, and a codec that
// holds the endpoint under test to the window and context takeover it agreed to.

import zlib from 'node:zlib';
import { toBuffer, type Bytes } from './bytes.js';
import type { PeerRole } from './frame-codec.js';

/** RFC 7692 §7.2.1: the tail of a sync flush, dropped by the sender and appended by the receiver. */
export const SYNC_FLUSH_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

export interface ExtensionElement {
  name: string;
  params: Map<string, string | true>;
  /** A parameter named twice. */
  repeated: boolean;
}

/** Parses a Sec-WebSocket-Extensions value (RFC 6455 §9.1), quoted values included. */
export function parseExtensions(value: string | undefined): ExtensionElement[] {
  if (value === undefined || value.trim() === '') return [];
  return value.split(',').map((element) => {
    const [name = '', ...rest] = element.split(';').map((part) => part.trim());
    const params = new Map<string, string | true>();
    let repeated = false;
    for (const part of rest) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
      const raw = eq < 0 ? true : part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      if (params.has(key)) repeated = true;
      params.set(key, raw);
    }
    return { name: name.toLowerCase(), params, repeated };
  });
}

/** What a permessage-deflate response commits both sides to (RFC 7692 §7.1); throws on a malformed one. */
export function deflateParamsFrom(element: ExtensionElement): DeflateParams {
  const bits = (name: string): number => {
    const value = element.params.get(name);
    if (value === undefined) return 15;
    if (value === true || !/^[0-9]+$/.test(value)) throw new Error(`${name} without a valid value`);
    const n = Number(value);
    if (n < 8 || n > 15) throw new Error(`${name}=${n} is outside 8..15`);
    return n;
  };
  for (const key of element.params.keys()) {
    if (!['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits'].includes(key)) {
      throw new Error(`unknown permessage-deflate parameter ${key}`);
    }
  }
  return {
    serverNoContextTakeover: element.params.has('server_no_context_takeover'),
    clientNoContextTakeover: element.params.has('client_no_context_takeover'),
    serverMaxWindowBits: bits('server_max_window_bits'),
    clientMaxWindowBits: bits('client_max_window_bits'),
  };
}

const Z_SYNC = zlib.constants.Z_SYNC_FLUSH;

function keepLast(history: Buffer, data: Buffer, windowBits: number): Buffer {
  const size = 1 << windowBits;
  if (data.length >= size) return Buffer.from(data.subarray(data.length - size));
  const joined = Buffer.concat([history, data]);
  return joined.length > size ? Buffer.from(joined.subarray(joined.length - size)) : joined;
}

/**
 * Our side of a negotiated permessage-deflate: one-shot zlib calls where the LZ77 window carried
 * between messages (context takeover) is passed as a dictionary. Inflating in small output chunks
 * with the agreed window makes zlib reject a back-reference farther than that window, so a peer that
 * ignores max_window_bits or no_context_takeover fails here with "invalid distance too far back".
 */
export class DeflateCodec {
  private sentHistory: Buffer = Buffer.alloc(0);
  private receivedHistory: Buffer = Buffer.alloc(0);

  constructor(
    readonly params: DeflateParams,
    readonly role: PeerRole,
  ) {}

  private get own(): { bits: number; reset: boolean } {
    const p = this.params;
    return this.role === 'client'
      ? { bits: p.clientMaxWindowBits, reset: p.clientNoContextTakeover }
      : { bits: p.serverMaxWindowBits, reset: p.serverNoContextTakeover };
  }

  private get peer(): { bits: number; reset: boolean } {
    const p = this.params;
    return this.role === 'client'
      ? { bits: p.serverMaxWindowBits, reset: p.serverNoContextTakeover }
      : { bits: p.clientMaxWindowBits, reset: p.clientNoContextTakeover };
  }

  /** Compresses one message (RFC 7692 §7.2.1): deflate, sync flush, drop the 00 00 ff ff tail. */
  compress(data: Bytes): Buffer {
    const input = toBuffer(data);
    const { bits, reset } = this.own;
    // zlib has no raw 8-bit deflate window; 9 bits with its 262-byte lookahead never reaches past 250.
    const options: zlib.ZlibOptions = { finishFlush: Z_SYNC, windowBits: Math.max(bits, 9) };
    if (!reset && this.sentHistory.length > 0) options.dictionary = this.sentHistory;
    const out = zlib.deflateRawSync(input, options);
    if (!reset) this.sentHistory = keepLast(this.sentHistory, input, bits);
    return out.subarray(-4).equals(SYNC_FLUSH_TAIL) ? out.subarray(0, -4) : out;
  }

  /** Decompresses one message received from the peer; throws when the peer broke the agreed window. */
  decompress(payload: Buffer): Buffer {
    const { bits, reset } = this.peer;
    const options: zlib.ZlibOptions = { finishFlush: Z_SYNC, windowBits: bits };
    if (bits < 15) options.chunkSize = 64; // zlib's minimum: a reference up to 64 bytes past the window could hide in one chunk
    if (!reset && this.receivedHistory.length > 0) options.dictionary = this.receivedHistory;
    const out = zlib.inflateRawSync(Buffer.concat([payload, SYNC_FLUSH_TAIL]), options);
    if (!reset) this.receivedHistory = keepLast(this.receivedHistory, out, bits);
    return out;
  }
}
