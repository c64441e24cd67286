// One WebSocket of the client: offers `tidewire.v1.<codec>`, encodes client frames, decodes server
// frames once at the edge, and reports one close. Uses only the browser WebSocket API (WebSocketLike).

import { subprotocolOf, type Codec } from './codec.js';
import type { ClientFrame, ServerFrame } from './envelope.js';
import { decodeServerFrame } from './envelope-decoder.js';
import type { WebSocketConstructor, WebSocketLike } from './transport.js';

/** Local close code when the server sent a message the codec cannot decode (RFC 6455 §7.4.1). */
export const UNDECODABLE_CLOSE_CODE = 1007;
/** Local close code when a connection failed or was given up (no close frame: RFC 6455 §7.4.1). */
export const ABNORMAL_CLOSE_CODE = 1006;
/** The code sent when the client ends a connection itself (browsers allow only 1000 and 3000–4999). */
const CLIENT_CLOSE_CODE = 1000;

/** What the client's helpers (publisher, subscriptions) need from its current connection. */
export interface ConnectionLink {
  /** The connection said hello: frames may go out. */
  isLive(): boolean;
  /** Sends a frame; false when the codec cannot encode it. */
  send(frame: ClientFrame): boolean;
  /** The next request id (unique across the client's life). */
  nextId(): number;
}

export interface ConnectionEvents {
  frame(frame: ServerFrame): void;
  /** A message the envelope decoder rejected: reported, then ignored (a newer server may send more). */
  invalidFrame(reason: string): void;
  /** Called once, unless the client dropped the connection itself. */
  close(code: number, reason: string): void;
}

export class ClientConnection {
  private readonly socket: WebSocketLike;
  private done = false;

  constructor(
    url: string,
    private readonly codec: Codec,
    WebSocketClass: WebSocketConstructor,
    private readonly events: ConnectionEvents,
  ) {
    this.socket = new WebSocketClass(url, subprotocolOf(codec));
    if (codec.binary) this.socket.binaryType = 'arraybuffer';
    this.socket.onmessage = (event) => this.receive(event.data);
    this.socket.onerror = () => {}; // a close event follows and carries what we need
    this.socket.onclose = (event) => this.finish(event.code, event.reason);
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  /** Encodes and sends one frame; throws when the codec cannot encode it (the caller's data is at fault). */
  send(frame: ClientFrame): void {
    if (!this.done) this.socket.send(this.codec.encode(frame));
  }

  /** Ends the connection without a close report: the client has already decided what comes next. */
  drop(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.detach();
    try {
      this.socket.close(CLIENT_CLOSE_CODE, reason);
    } catch {
      // already closing or closed
    }
  }

  private receive(data: unknown): void {
    if (this.done) return;
    let value: unknown;
    try {
      value = this.codec.decode(toMessage(data));
    } catch (error) {
      this.drop('undecodable message');
      this.events.close(UNDECODABLE_CLOSE_CODE, `undecodable message from the server: ${(error as Error).message}`);
      return;
    }
    const decoded = decodeServerFrame(value);
    if (decoded.ok) this.events.frame(decoded.frame);
    else this.events.invalidFrame(decoded.reason);
  }

  private finish(code: number, reason: string): void {
    if (this.done) return;
    this.done = true;
    this.detach();
    this.events.close(code, reason);
  }

  private detach(): void {
    this.socket.onmessage = null;
    this.socket.onclose = null;
    this.socket.onopen = null;
  }
}

function toMessage(data: unknown): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`unexpected message type ${Object.prototype.toString.call(data)}`);
}
