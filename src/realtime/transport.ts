// The two seams that keep the messaging layer independent of how bytes travel: the server core
// sees TransportConnections (a WebSocket today, an HTTP long-poll session tomorrow), the client
// sees anything shaped like the browser's WebSocket.

/** One client connection as the server core sees it. */
export interface TransportConnection {
  /** The codec name negotiated for this connection (e.g. "json"). */
  readonly codecName: string;
  /** Sends one message (text for text codecs, bytes for binary ones). */
  send(message: string | Uint8Array): void;
  /**
   * Optional: sends a message that many connections receive (a publication). `shared` belongs to
   * that message: a transport may keep its prepared wire form there, under a key of its own, so
   * the work is done once for all receivers.
   */
  sendShared?(message: string | Uint8Array, shared: Map<string, unknown>): void;
  /**
   * Optional: sends several messages, in order, that many connections receive together (a burst of
   * publications). `shared` belongs to that list of messages, as for sendShared.
   */
  sendSharedBatch?(messages: readonly (string | Uint8Array)[], shared: Map<string, unknown>): void;
  /** Bytes accepted by send() and not yet handed to the network: the slow-consumer measure. */
  readonly bufferedAmount: number;
  /**
   * Calls `callback` once bufferedAmount is at most `bytes` (never after the connection closed; a
   * later call replaces an earlier wait): what paces a replay.
   */
  whenBufferedAtMost(bytes: number, callback: () => void): void;
  close(code: number, reason: string): void;
  /** Set by the server core. */
  onMessage: ((message: string | Uint8Array) => void) | null;
  onClose: ((code: number, reason: string) => void) | null;
}

/** The subset of the browser WebSocket API the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string; wasClean: boolean }) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;
