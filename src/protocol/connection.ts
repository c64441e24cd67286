// The sans-I/O WebSocket connection after the opening handshake: bytes in, events and bytes
// out. It assembles messages, enforces limits, answers pings and runs the closing handshake
// (RFC 6455 §5–§7). It never throws because of what the peer sent: a peer fault fails the
// connection with the right close code and input is discarded from then on.

import { CloseCode, isWireValid } from './close-codes.js';
import { InvalidStateError, LimitExceededError, PeerError } from './errors.js';
import { FrameParser, type FrameSink } from './frame-parser.js';
import { encodeFrame, type FrameHeaderFields } from './frame-writer.js';
import type { Limits } from './limits.js';
import { Opcode, isControlOpcode, RSV1 } from './opcodes.js';
import { Utf8Validator, isValidUtf8 } from './utf8-validator.js';
import { encodeClosePayload } from './close-payload.js';
import { MessageBuffer } from './message-buffer.js';

export const Role = { CLIENT: 'client', SERVER: 'server' } as const;
export type Role = (typeof Role)[keyof typeof Role];

export const ConnectionState = { OPEN: 'open', CLOSING: 'closing', CLOSED: 'closed' } as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

export interface ConnectionEvents {
  message(data: Buffer, isBinary: boolean): void;
  ping(data: Buffer): void;
  pong(data: Buffer): void;
  /** The peer's close frame arrived (code 1005 when it carried none). */
  closeFrame(code: number, reason: string): void;
  /** We failed the connection; a close frame with `error.closeCode` was queued when one could still be sent. */
  failure(error: PeerError | LimitExceededError): void;
  /** Bytes to send, in order. */
  write(chunk: Buffer): void;
  /**
   * Optional: frame `payload` straight into the driver's output (saves an allocation per frame).
   * Without it, frames are encoded here and handed to write().
   */
  writeFrame?(fields: FrameHeaderFields, payload: Uint8Array): void;
  /** Nothing more will be written: close TCP once the writes are out. */
  end(): void;
  /** We wait for the peer (its close frame, or the server's TCP close): time to arm the close timer. */
  closeExpected(): void;
  /**
   * A frame of a compressed message (RFC 7692): decompress it (appending 00 00 ff ff when
   * `fin`), then call `inflated()` or `inflateFailed()`. Parsing waits until then.
   */
  inflate(payload: Buffer, fin: boolean): void;
}

export interface ConnectionOptions {
  role: Role;
  limits: Pick<Limits, 'maxMessageBytes' | 'maxFragmentsPerMessage'>;
  /** permessage-deflate was negotiated: RSV1 marks compressed messages. */
  compression: boolean;
  /** Client only: a fresh 4-byte mask key per frame (RFC 6455 §5.3 requires unpredictable keys). */
  maskKey?: () => Uint8Array;
}

export class Connection implements FrameSink {
  state: ConnectionState = ConnectionState.OPEN;
  /** Close codes as sent and as received (undefined: no close frame; 1005: one without a code). */
  sentCloseCode: number | undefined;
  receivedCloseCode: number | undefined;

  /** Created with the first bytes received; after the connection closed, input is discarded instead. */
  private parser: FrameParser | null = null;
  // Created on first need (a fragmented message, a text frame spanning reads, a driver without
  // writeFrame): an idle connection holds none of them.
  private messageBuffer: MessageBuffer | null = null;
  private validator: Utf8Validator | null = null;
  private emitWrite: ((chunk: Buffer) => void) | null = null;
  private messageOpcode = 0;
  private messageCompressed = false;
  private messageWireBytes = 0;
  private fragmentCount = 0;
  private frameOpcode = 0;
  private frameFin = false;
  /** A compressed frame was handed to `events.inflate` and its answer has not come yet. */
  private awaitingInflate = false;
  /** Inside the `events.inflate` call (a driver may answer synchronously). */
  private insideInflateCall = false;
  /** The current frame's text was validated piece by piece as it arrived. */
  private frameTextStreamed = false;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly events: ConnectionEvents,
  ) {
    // RFC 6455 §5.1: a client masks every frame, a server none.
    if ((options.role === Role.CLIENT) !== (options.maskKey !== undefined)) {
      throw new TypeError('A client connection needs a maskKey source and a server connection must not have one');
    }
  }

  private get message(): MessageBuffer {
    return (this.messageBuffer ??= new MessageBuffer(this.options.limits.maxMessageBytes));
  }

  private get textValidator(): Utf8Validator {
    return (this.validator ??= new Utf8Validator());
  }

  /** Bytes of the message being gathered (0 when none). */
  private get messageLength(): number {
    return this.messageBuffer === null ? 0 : this.messageBuffer.length;
  }

  get closeFrameSent(): boolean {
    return this.sentCloseCode !== undefined;
  }

  get closeFrameReceived(): boolean {
    return this.receivedCloseCode !== undefined;
  }

  /** Room left in the message being received, for a decompressor that must stop early. */
  get remainingMessageBytes(): number {
    return this.options.limits.maxMessageBytes - this.messageLength;
  }

  receiveData(chunk: Buffer): void {
    if (this.parser === null) {
      if (this.state === ConnectionState.CLOSED) return; // what a stopped parser would do
      this.parser = new FrameParser(this, this.options.role === Role.SERVER);
    }
    this.parser.push(chunk);
  }

  /** The peer closed its side of TCP. */
  receiveEof(): void {
    this.shutdown();
  }

  /** The driver dropped the connection (terminate, timeout, socket error). */
  abort(): void {
    this.shutdown();
  }

  // ---- sending ----

  send(data: Uint8Array, isBinary: boolean): void {
    this.sendFrame(isBinary ? Opcode.BINARY : Opcode.TEXT, data, false);
  }

  /** A message already compressed with the negotiated permessage-deflate context. */
  sendCompressed(data: Uint8Array, isBinary: boolean): void {
    this.sendFrame(isBinary ? Opcode.BINARY : Opcode.TEXT, data, true);
  }

  /** Writes frames encoded elsewhere (a broadcast framed once for many receivers). Server only. */
  sendEncoded(chunks: readonly Buffer[]): void {
    this.assertOpen('send');
    for (const chunk of chunks) this.events.write(chunk);
  }

  ping(data: Uint8Array): void {
    this.sendControl(Opcode.PING, data);
  }

  pong(data: Uint8Array): void {
    this.sendControl(Opcode.PONG, data);
  }

  /** Starts the closing handshake (RFC 6455 §7.1.2). Without a code the close frame is empty. */
  close(code?: number, reason = ''): void {
    if (this.state !== ConnectionState.OPEN) return;
    this.writeFrame(Opcode.CLOSE, encodeClosePayload(code, reason), false);
    this.sentCloseCode = code ?? CloseCode.NO_STATUS;
    this.state = ConnectionState.CLOSING;
    this.events.closeExpected();
  }

  // ---- the decompressor's answers ----

  inflated(data: Buffer): void {
    if (this.state === ConnectionState.CLOSED || !this.awaitingInflate) return;
    this.awaitingInflate = false;
    // Answered within inflate(): the parser loop is still running and simply goes on.
    if (this.appendMessageData(data, this.frameFin) && !this.insideInflateCall) this.parser?.resume();
  }

  inflateFailed(error: PeerError | LimitExceededError): void {
    this.fail(error);
  }

  // ---- FrameSink: what the parser found ----

  onFrameHeader(fin: boolean, rsv: number, opcode: number, payloadLength: number): boolean {
    const fault = this.checkFrame(rsv, opcode, payloadLength);
    if (fault !== null) {
      this.fail(fault);
      return false;
    }
    this.frameOpcode = opcode;
    this.frameFin = fin;
    if (!isControlOpcode(opcode)) {
      if (opcode !== Opcode.CONTINUATION) {
        this.messageOpcode = opcode;
        this.messageCompressed = (rsv & RSV1) !== 0;
      }
      this.fragmentCount++;
      this.messageWireBytes += payloadLength;
    }
    return true;
  }

  onFramePayload(payload: Buffer): boolean {
    switch (this.frameOpcode) {
      case Opcode.PING:
        if (!this.closeFrameSent) this.writeFrame(Opcode.PONG, payload, false);
        this.events.ping(payload);
        return this.state !== ConnectionState.CLOSED;
      case Opcode.PONG:
        this.events.pong(payload);
        return this.state !== ConnectionState.CLOSED;
      case Opcode.CLOSE:
        this.receiveCloseFrame(payload);
        return false;
      default:
        if (this.closeFrameSent) return this.discardAfterClose();
        if (this.messageCompressed) return this.requestInflate(payload);
        return this.appendMessageData(payload, this.frameFin);
    }
  }

  onFramePayloadPart(data: Buffer, start: number, end: number): boolean {
    // RFC 6455 §8.1 fail fast, within a frame too (Autobahn 6.4.3/6.4.4): validate text as it arrives.
    if (this.messageOpcode !== Opcode.TEXT || this.messageCompressed || isControlOpcode(this.frameOpcode) || this.closeFrameSent) return true;
    this.frameTextStreamed = true;
    if (this.textValidator.push(data.subarray(start, end))) return true;
    return this.fail(new PeerError('invalid UTF-8 in a text message', CloseCode.INVALID_PAYLOAD));
  }

  onFrameError(error: PeerError | LimitExceededError): void {
    this.fail(error);
  }

  // ---- internals ----

  private checkFrame(rsv: number, opcode: number, length: number): PeerError | LimitExceededError | null {
    // RFC 6455 §5.2: reserved bits MUST be 0 unless an extension defines them; RFC 7692 §6:
    // permessage-deflate defines RSV1, on the first frame of a data message only.
    if ((rsv & ~RSV1) !== 0) return new PeerError('reserved bits RSV2/RSV3 set', CloseCode.PROTOCOL_ERROR);
    if (rsv !== 0) {
      if (!this.options.compression) return new PeerError('RSV1 set without permessage-deflate', CloseCode.PROTOCOL_ERROR);
      if (isControlOpcode(opcode) || opcode === Opcode.CONTINUATION) {
        return new PeerError('RSV1 set on a control or continuation frame', CloseCode.PROTOCOL_ERROR);
      }
    }
    if (isControlOpcode(opcode)) return null;
    // RFC 6455 §5.4: fragments of one message are not interleaved with another's.
    if (opcode === Opcode.CONTINUATION && this.messageOpcode === 0) {
      return new PeerError('continuation frame without a message to continue', CloseCode.PROTOCOL_ERROR);
    }
    if (opcode !== Opcode.CONTINUATION && this.messageOpcode !== 0) {
      return new PeerError('new data frame inside a fragmented message', CloseCode.PROTOCOL_ERROR);
    }
    const limits = this.options.limits;
    if (this.fragmentCount + 1 > limits.maxFragmentsPerMessage) {
      return new LimitExceededError('maxFragmentsPerMessage', limits.maxFragmentsPerMessage, this.fragmentCount + 1);
    }
    const compressed = opcode === Opcode.CONTINUATION ? this.messageCompressed : (rsv & RSV1) !== 0;
    const wireBytes = (opcode === Opcode.CONTINUATION ? this.messageWireBytes : 0) + length;
    // A compressed message may be a little larger on the wire than decoded (incompressible data).
    const wireLimit = compressed ? limits.maxMessageBytes + (limits.maxMessageBytes >>> 8) + 1024 : limits.maxMessageBytes;
    if (wireBytes > wireLimit) return new LimitExceededError('maxMessageBytes', limits.maxMessageBytes, wireBytes);
    return null;
  }

  /** Hands a compressed frame to the driver; true when it was answered at once and parsing may go on. */
  private requestInflate(payload: Buffer): boolean {
    this.awaitingInflate = true;
    this.insideInflateCall = true;
    try {
      this.events.inflate(payload, this.frameFin);
    } finally {
      this.insideInflateCall = false;
    }
    return !this.awaitingInflate && this.state !== ConnectionState.CLOSED;
  }

  /** Adds decoded bytes to the message; delivers it on `fin`. False when the connection failed. */
  private appendMessageData(data: Buffer, fin: boolean): boolean {
    const isText = this.messageOpcode === Opcode.TEXT;
    const alreadyValidated = this.frameTextStreamed;
    this.frameTextStreamed = false;
    const max = this.options.limits.maxMessageBytes;
    if (fin && this.messageLength === 0 && this.fragmentCount === 1) {
      // One frame, one message: no copy, the native UTF-8 check. (Decompressed data is checked against the limit here too.)
      if (data.length > max) return this.fail(new LimitExceededError('maxMessageBytes', max, data.length));
      if (isText && !(alreadyValidated ? this.textValidator.end() : isValidUtf8(data))) {
        return this.fail(new PeerError('invalid UTF-8 in a text message', CloseCode.INVALID_PAYLOAD));
      }
      return this.deliver(data);
    }
    if (data.length > this.remainingMessageBytes) {
      return this.fail(new LimitExceededError('maxMessageBytes', max, this.messageLength + data.length));
    }
    // RFC 6455 §8.1 fail fast: a text message is checked fragment by fragment.
    if (isText && !alreadyValidated && !this.textValidator.push(data)) {
      return this.fail(new PeerError('invalid UTF-8 in a text message', CloseCode.INVALID_PAYLOAD));
    }
    this.message.append(data);
    if (!fin) return true;
    if (isText && !this.textValidator.end()) {
      return this.fail(new PeerError('text message ends inside a UTF-8 sequence', CloseCode.INVALID_PAYLOAD));
    }
    return this.deliver(this.message.take());
  }

  private deliver(data: Buffer): boolean {
    const isBinary = this.messageOpcode === Opcode.BINARY;
    this.messageOpcode = 0;
    this.messageCompressed = false;
    this.messageWireBytes = 0;
    this.fragmentCount = 0;
    this.events.message(data, isBinary);
    return this.state !== ConnectionState.CLOSED;
  }

  private discardAfterClose(): boolean {
    if (this.frameFin) {
      this.messageOpcode = 0;
      this.fragmentCount = 0;
      this.messageWireBytes = 0;
      this.messageBuffer?.take();
      this.validator?.reset();
    }
    return true;
  }

  /** RFC 6455 §5.5.1 and §7.1.5: validate, answer if we have not sent a close yet, then finish. */
  private receiveCloseFrame(payload: Buffer): void {
    if (payload.length === 1) {
      this.fail(new PeerError('close frame with a 1-byte payload', CloseCode.PROTOCOL_ERROR));
      return;
    }
    const code = payload.length >= 2 ? payload.readUInt16BE(0) : CloseCode.NO_STATUS;
    if (payload.length >= 2 && !isWireValid(code)) {
      this.fail(new PeerError(`invalid close code ${code}`, CloseCode.PROTOCOL_ERROR));
      return;
    }
    const reasonBytes = payload.subarray(2);
    if (!isValidUtf8(reasonBytes)) {
      this.fail(new PeerError('invalid UTF-8 in the close reason', CloseCode.INVALID_PAYLOAD));
      return;
    }
    this.receivedCloseCode = code;
    if (!this.closeFrameSent) {
      // Echo the status code we received (RFC 6455 §5.5.1); an empty close is answered empty.
      this.writeFrame(Opcode.CLOSE, encodeClosePayload(payload.length >= 2 ? code : undefined, ''), false);
      this.sentCloseCode = code;
    }
    this.state = ConnectionState.CLOSED;
    this.parser?.stop();
    this.events.closeFrame(code, reasonBytes.toString('utf8'));
    // RFC 6455 §7.1.1: the server closes TCP first; the client waits for it (with a timer).
    if (this.options.role === Role.SERVER) this.events.end();
    else this.events.closeExpected();
  }

  /** _Fail the WebSocket Connection_ (RFC 6455 §7.1.7). Always returns false. */
  private fail(error: PeerError | LimitExceededError): false {
    if (this.state === ConnectionState.CLOSED) return false;
    this.parser?.stop();
    if (!this.closeFrameSent) {
      const reason = error.closeCode === CloseCode.INTERNAL_ERROR ? '' : error.message;
      this.writeFrame(Opcode.CLOSE, encodeClosePayload(error.closeCode, reason, true), false);
      this.sentCloseCode = error.closeCode;
    }
    this.state = ConnectionState.CLOSED;
    this.events.failure(error);
    this.events.end();
    return false;
  }

  private shutdown(): void {
    this.state = ConnectionState.CLOSED;
    this.parser?.stop();
    this.messageBuffer?.take();
  }

  private sendFrame(opcode: number, data: Uint8Array, compressed: boolean): void {
    this.assertOpen('send');
    this.writeFrame(opcode, data, compressed);
  }

  private sendControl(opcode: number, data: Uint8Array): void {
    this.assertOpen(opcode === Opcode.PING ? 'ping' : 'pong');
    if (data.length > 125) throw new RangeError('A control frame payload must be 125 bytes or less (RFC 6455 §5.5)');
    this.writeFrame(opcode, data, false);
  }

  private assertOpen(action: string): void {
    if (this.state !== ConnectionState.OPEN) throw new InvalidStateError(`Cannot ${action}: the connection is ${this.state}`);
  }

  private writeFrame(opcode: number, payload: Uint8Array, rsv1: boolean): void {
    const maskKey = this.options.maskKey ? this.options.maskKey() : null;
    const fields = { fin: true, rsv1, opcode, maskKey };
    if (this.events.writeFrame !== undefined) this.events.writeFrame(fields, payload);
    else encodeFrame(fields, payload, (this.emitWrite ??= (chunk: Buffer): void => this.events.write(chunk)));
  }
}
