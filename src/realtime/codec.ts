// How envelope frames become WebSocket messages. Each codec is one subprotocol
// (`tidewire.v1.<name>`); JSON is built in, MessagePack and Protobuf live in src/codecs/.

export interface Codec {
  /** The subprotocol suffix: `tidewire.v1.${name}`. */
  readonly name: string;
  /** Text codecs send text frames, the others binary frames. */
  readonly binary: boolean;
  encode(frame: unknown): string | Uint8Array;
  /** Bytes or text from the wire to a plain value; throws on malformed input (the caller closes with 1007). */
  decode(message: string | Uint8Array): unknown;
}

export const SUBPROTOCOL_PREFIX = 'tidewire.v1.';

export function subprotocolOf(codec: Codec): string {
  return SUBPROTOCOL_PREFIX + codec.name;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

export const jsonCodec: Codec = {
  name: 'json',
  binary: false,
  encode: (frame) => JSON.stringify(frame),
  decode: (message) => JSON.parse(typeof message === 'string' ? message : textDecoder.decode(message)) as unknown,
};
