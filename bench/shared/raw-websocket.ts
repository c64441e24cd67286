// A raw RFC 6455 text client for load generators: handshake, masked frames, unmasked server frames
// (no extensions). Shared by the realtime and cross-node benchmarks. Built to cost little per
// delivery, so that a load process measures the server: every read lands in one reused buffer
// (no allocation per read), frames are parsed in place, and a caller that wants no string per
// message gets the frame's bytes as (buffer, start, end) through onTextBytes.

import net from 'node:net';
import { randomBytes } from 'node:crypto';

/** A masked (client) frame with a fresh random key. */
export function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.alloc(headerLength + 4 + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) frame[1] = 0x80 | length;
  else if (length < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  const key = randomBytes(4);
  key.copy(frame, headerLength);
  for (let i = 0; i < length; i++) frame[headerLength + 4 + i] = payload[i]! ^ key[i & 3]!;
  return frame;
}

export type SendText = (text: string) => void;

export interface RawConnectOptions {
  host: string;
  port: number;
  localAddress?: string | undefined;
  path: string;
  protocol: string | null;
  /** A whole text message (fragments joined); `send` answers with a masked text frame. */
  onText: (text: string, send: SendText) => void;
  /**
   * Optional fast path, tried first for every whole text message: its UTF-8 bytes are
   * `data[start, end)`, valid only during the call (the buffer is reused for the next read).
   * Return true when handled; false passes the message on to onText as a string.
   */
  onTextBytes?: (data: Buffer, start: number, end: number, send: SendText) => boolean;
  /** Called once: handshake refused, close frame, socket error or close. */
  onClose: (why: string) => void;
}

export interface RawConnection {
  /** Closes without reporting. */
  close(): void;
  /** Reports `why` through onClose (once) and drops the connection. */
  fail(why: string): void;
}

/**
 * Every socket of the process reads into this one buffer: a read is handled completely (or its
 * unfinished tail copied) before the next read of any socket, so sharing it is safe.
 */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

const Opcode = { CONTINUATION: 0x0, TEXT: 0x1, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

/** A minimal WebSocket text client over net.Socket: cheap enough for 10,000 per load process. */
export function rawConnect(options: RawConnectOptions): RawConnection {
  const { host, port, localAddress, path, protocol, onText, onTextBytes, onClose } = options;
  let open = false;
  let closed = false;
  /** The unfinished end of the previous read (a partial handshake or frame), copied out of READ_BUFFER. */
  let carry: Buffer | null = null;
  let fragments: Buffer[] = [];

  const socket = net.connect({
    host,
    port,
    localAddress,
    onread: {
      buffer: READ_BUFFER,
      callback: (bytesRead: number, buffer: Uint8Array): boolean => {
        const fresh = buffer as Buffer;
        if (carry === null) consume(fresh, bytesRead);
        else {
          const joined = Buffer.concat([carry, fresh.subarray(0, bytesRead)]);
          carry = null;
          consume(joined, joined.length);
        }
        return true;
      },
    },
  });
  socket.setNoDelay(true);
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
      '\r\n',
  );
  const send: SendText = (text) => {
    if (!closed) socket.write(maskedFrame(Opcode.TEXT, Buffer.from(text)));
  };

  const finish = (why: string): void => {
    if (closed) return;
    closed = true;
    onClose(why);
    socket.destroy();
  };

  /** Parses data[0, length): the handshake answer first, then frames; keeps an unfinished tail. */
  function consume(data: Buffer, length: number): void {
    let pos = 0;
    if (!open) {
      const headEnd = data.subarray(0, length).indexOf('\r\n\r\n');
      if (headEnd < 0) {
        carry = Buffer.from(data.subarray(0, length));
        return;
      }
      const head = data.toString('latin1', 0, headEnd);
      if (!head.startsWith('HTTP/1.1 101')) return finish(`handshake refused: ${head.split('\r\n')[0]}`);
      open = true;
      pos = headEnd + 4;
    }
    while (!closed) {
      const available = length - pos;
      if (available < 2) break;
      const b0 = data[pos]!;
      let payloadLength = data[pos + 1]! & 0x7f;
      let headerLength = 2;
      if (payloadLength === 126) {
        if (available < 4) break;
        payloadLength = (data[pos + 2]! << 8) | data[pos + 3]!;
        headerLength = 4;
      } else if (payloadLength === 127) {
        if (available < 10) break;
        payloadLength = Number(data.readBigUInt64BE(pos + 2));
        headerLength = 10;
      }
      const start = pos + headerLength;
      const end = start + payloadLength;
      if (end > length) break;
      frame(b0, data, start, end);
      pos = end;
    }
    if (!closed && pos < length) carry = Buffer.from(data.subarray(pos, length));
  }

  function frame(b0: number, data: Buffer, start: number, end: number): void {
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    if (opcode === Opcode.TEXT || opcode === Opcode.CONTINUATION) {
      if (!fin) fragments.push(Buffer.from(data.subarray(start, end)));
      else if (fragments.length > 0) {
        fragments.push(data.subarray(start, end));
        const whole = Buffer.concat(fragments);
        fragments = [];
        text(whole, 0, whole.length);
      } else text(data, start, end);
    } else if (opcode === Opcode.PING) {
      socket.write(maskedFrame(Opcode.PONG, Buffer.from(data.subarray(start, end))));
    } else if (opcode === Opcode.CLOSE) {
      finish(`close frame ${end - start >= 2 ? data.readUInt16BE(start) : 1005}`);
    }
  }

  function text(data: Buffer, start: number, end: number): void {
    if (onTextBytes !== undefined && onTextBytes(data, start, end, send)) return;
    onText(data.toString('utf8', start, end), send);
  }

  socket.on('error', (error) => finish(`socket error: ${error.message}`));
  socket.on('close', () => finish('socket closed'));
  return {
    close: () => {
      closed = true;
      socket.destroy();
    },
    fail: finish,
  };
}

/** ASCII bytes of `text`, for matching in place. */
export function asciiBytes(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

/** True when data[at, at + prefix.length) equals `prefix` (and lies before `end`). */
export function startsWithBytes(data: Buffer, at: number, end: number, prefix: Buffer): boolean {
  if (end - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[at + i] !== prefix[i]) return false;
  return true;
}

/**
 * The non-negative integer written right after the first `key` (e.g. `"seq":`) in data[start, end),
 * or -1 when there is none. No string is made.
 */
export function integerAfter(data: Buffer, start: number, end: number, key: Buffer): number {
  const at = data.indexOf(key, start);
  if (at < 0 || at + key.length >= end) return -1;
  let value = 0;
  let digits = 0;
  for (let i = at + key.length; i < end; i++, digits++) {
    const c = data[i]!;
    if (c < 0x30 || c > 0x39) break;
    value = value * 10 + (c - 0x30);
  }
  return digits > 0 ? value : -1;
}
