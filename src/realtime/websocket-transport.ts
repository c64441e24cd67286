// Adapts one server-side tidewire WebSocket to the TransportConnection the server core works on:
// text frames arrive as strings and binary frames as bytes; sends pick the frame type from the data.

import type { WebSocket } from '../node/websocket.js';
import type { TransportConnection } from './transport.js';
import { prepareMessage, prepareMessages, type PreparedMessage } from '../node/prepared-message.js';

const PREPARED_KEY = 'websocket.prepared';

export class WebSocketTransport implements TransportConnection {
  onMessage: ((message: string | Uint8Array) => void) | null = null;
  onClose: ((code: number, reason: string) => void) | null = null;

  constructor(
    private readonly ws: WebSocket,
    readonly codecName: string,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage?.(isBinary ? data : data.toString('utf8')));
    ws.on('close', (code: number, reason: Buffer) => this.onClose?.(code, reason.toString('utf8')));
    ws.on('error', () => {}); // the close event that follows carries what matters
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  whenBufferedAtMost(bytes: number, callback: () => void): void {
    this.ws.whenBufferedAtMost(bytes, callback);
  }

  send(message: string | Uint8Array): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(message, { binary: typeof message !== 'string' });
  }

  /** Publications: framed once per codec, the same bytes written to every subscriber. */
  sendShared(message: string | Uint8Array, shared: Map<string, unknown>): void {
    let prepared = shared.get(PREPARED_KEY) as PreparedMessage | undefined;
    if (prepared === undefined) shared.set(PREPARED_KEY, (prepared = prepareMessage(message, typeof message !== 'string')));
    this.ws.sendPrepared(prepared);
  }

  /** A burst of publications: every frame prepared once, all of them written to every subscriber as one piece. */
  sendSharedBatch(messages: readonly (string | Uint8Array)[], shared: Map<string, unknown>): void {
    let prepared = shared.get(PREPARED_KEY) as PreparedMessage | undefined;
    if (prepared === undefined) shared.set(PREPARED_KEY, (prepared = prepareMessages(messages)));
    this.ws.sendPrepared(prepared);
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
}
