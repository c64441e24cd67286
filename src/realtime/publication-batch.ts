// Publications of one channel that reached this node in the same turn, fanned out together: a
// subscriber that is exactly at the batch's first offset gets all of them in one transport write
// (encoded and framed once per codec for every such subscriber); any other subscriber gets them
// one by one through its usual per-publication checks.

import type { Codec } from './codec.js';
import type { EncodedFrame } from './encoded-frame.js';
import type { PublicationFrame } from './envelope.js';

/** A batch's messages in one codec, with their size for the outbound bound. */
export interface EncodedBatch {
  readonly messages: readonly (string | Uint8Array)[];
  /** Payload bytes of all messages (what TransportConnection.bufferedAmount counts). */
  readonly bytes: number;
  /** Where a transport keeps its prepared form of the whole batch (see TransportConnection.sendSharedBatch). */
  readonly shared: Map<string, unknown>;
}

export class PublicationBatch {
  readonly epoch: string;
  readonly firstOffset: number;
  readonly lastOffset: number;
  /** One epoch and offsets increasing by one: only then can a subscriber take the batch whole. */
  readonly consecutive: boolean;
  private firstCodec: Codec | null = null;
  private firstEncoded: EncodedBatch | null = null;
  private byCodec: Map<string, EncodedBatch> | null = null;

  /** `publications`: at least one, in arrival order. */
  constructor(readonly publications: readonly EncodedFrame<PublicationFrame>[]) {
    const first = publications[0]!.frame;
    this.epoch = first.epoch;
    this.firstOffset = first.offset;
    this.lastOffset = publications.at(-1)!.frame.offset;
    let consecutive = true;
    for (let i = 1; i < publications.length && consecutive; i++) {
      const { epoch, offset } = publications[i]!.frame;
      consecutive = epoch === first.epoch && offset === first.offset + i;
    }
    this.consecutive = consecutive;
  }

  /** Every publication in `codec`'s wire form (each encoded once, shared with the single frames); throws what the codec throws. */
  encode(codec: Codec): EncodedBatch {
    this.firstCodec ??= codec;
    if (codec === this.firstCodec) return (this.firstEncoded ??= this.encodeAll(codec));
    let encoded = this.byCodec?.get(codec.name);
    if (encoded === undefined) (this.byCodec ??= new Map()).set(codec.name, (encoded = this.encodeAll(codec)));
    return encoded;
  }

  private encodeAll(codec: Codec): EncodedBatch {
    let bytes = 0;
    const messages = this.publications.map((publication) => {
      const message = publication.encode(codec);
      bytes += typeof message === 'string' ? Buffer.byteLength(message, 'utf8') : message.byteLength;
      return message;
    });
    return { messages, bytes, shared: new Map() };
  }
}
