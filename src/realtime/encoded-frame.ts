// A server frame sent to many sessions (a publication fanned out to a channel's subscribers):
// encoded at most once per codec, however many sessions speak that codec. Servers mostly speak
// one codec, so the first codec's forms sit in fields and only further codecs need a Map lookup.

import type { Codec } from './codec.js';
import type { ServerFrame } from './envelope.js';

export class EncodedFrame<F extends ServerFrame = ServerFrame> {
  private firstCodec: Codec | null = null;
  private firstEncoded: string | Uint8Array | null = null;
  private firstShared: Map<string, unknown> | null = null;
  private byCodec: Map<string, string | Uint8Array> | null = null;
  private sharedByCodec: Map<string, Map<string, unknown>> | null = null;

  constructor(readonly frame: F) {}

  /** The frame in `codec`'s wire form; throws what the codec throws. */
  encode(codec: Codec): string | Uint8Array {
    if (this.claims(codec)) return (this.firstEncoded ??= codec.encode(this.frame));
    const cached = this.byCodec?.get(codec.name);
    if (cached !== undefined) return cached;
    const encoded = codec.encode(this.frame);
    (this.byCodec ??= new Map()).set(codec.name, encoded);
    return encoded;
  }

  /** Where transports keep their prepared form of this frame in `codec` (see TransportConnection.sendShared). */
  shared(codec: Codec): Map<string, unknown> {
    if (this.claims(codec)) return (this.firstShared ??= new Map());
    const sharedByCodec = (this.sharedByCodec ??= new Map());
    let shared = sharedByCodec.get(codec.name);
    if (shared === undefined) sharedByCodec.set(codec.name, (shared = new Map()));
    return shared;
  }

  /** True when `codec` owns the field slots (the first codec asked about). */
  private claims(codec: Codec): boolean {
    this.firstCodec ??= codec;
    return this.firstCodec === codec;
  }
}
