// A server frame sent to many sessions (a publication fanned out to a channel's subscribers):
// encoded at most once per codec, however many sessions speak that codec.

import type { Codec } from './codec.js';
import type { ServerFrame } from './envelope.js';

export class EncodedFrame<F extends ServerFrame = ServerFrame> {
  private byCodec: Map<string, string | Uint8Array> | null = null;
  private sharedByCodec: Map<string, Map<string, unknown>> | null = null;

  constructor(readonly frame: F) {}

  /** The frame in `codec`'s wire form; throws what the codec throws. */
  encode(codec: Codec): string | Uint8Array {
    const cached = this.byCodec?.get(codec.name);
    if (cached !== undefined) return cached;
    const encoded = codec.encode(this.frame);
    (this.byCodec ??= new Map()).set(codec.name, encoded);
    return encoded;
  }

  /** Where transports keep their prepared form of this frame in `codec` (see TransportConnection.sendShared). */
  shared(codec: Codec): Map<string, unknown> {
    const sharedByCodec = (this.sharedByCodec ??= new Map());
    let shared = sharedByCodec.get(codec.name);
    if (shared === undefined) sharedByCodec.set(codec.name, (shared = new Map()));
    return shared;
  }
}
