// The event objects of the browser WebSocket API (WHATWG WebSockets §9): Node 20 has Event and
// MessageEvent but no CloseEvent, and its ErrorEvent is not global.

export class CloseEvent extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(type: string, init: { code?: number; reason?: string; wasClean?: boolean } = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
    this.wasClean = init.wasClean ?? false;
  }
}

export class ErrorEvent extends Event {
  readonly error: unknown;
  readonly message: string;
  constructor(type: string, init: { error?: unknown; message?: string } = {}) {
    super(type);
    this.error = init.error;
    this.message = init.message ?? '';
  }
}

export type BinaryType = 'blob' | 'arraybuffer' | 'nodebuffer';

/** A binary message as the browser API hands it out for a given binaryType. */
export function binaryMessageData(data: Buffer, binaryType: BinaryType): Blob | ArrayBuffer | Buffer {
  switch (binaryType) {
    case 'nodebuffer':
      return data;
    case 'arraybuffer':
      return data.buffer.slice(data.byteOffset, data.byteOffset + data.length) as ArrayBuffer;
    case 'blob':
      return new Blob([data as Uint8Array<ArrayBuffer>]);
    default: {
      const unknown: never = binaryType;
      throw new TypeError(`Unknown binaryType ${String(unknown)}`);
    }
  }
}
