// A raw RFC 6455 text client for load generators: handshake, masked frames, unmasked server frames
// (no extensions). Shared by the realtime and cross-node benchmarks.

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

export interface RawConnectOptions {
  host: string;
  port: number;
  localAddress?: string | undefined;
  path: string;
  protocol: string | null;
  /** A whole text message (fragments joined); `send` answers with a masked text frame. */
  onText: (text: string, send: (text: string) => void) => void;
  /** Called once: handshake refused, close frame, socket error or close. */
  onClose: (why: string) => void;
}

export interface RawConnection {
  /** Closes without reporting. */
  close(): void;
  /** Reports `why` through onClose (once) and drops the connection. */
  fail(why: string): void;
}

/** A minimal WebSocket text client over net.Socket: cheap enough for 10,000 per load process. */
export function rawConnect({ host, port, localAddress, path, protocol, onText, onClose }: RawConnectOptions): RawConnection {
  const socket = net.connect({ host, port, localAddress });
  socket.setNoDelay(true);
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
      '\r\n',
  );
  const send = (text: string) => socket.write(maskedFrame(1, Buffer.from(text)));
  let buffer: Buffer = Buffer.alloc(0);
  let open = false;
  let fragments: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    if (!open) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffer.subarray(0, end).toString('latin1');
      if (!head.startsWith('HTTP/1.1 101')) {
        closed = true;
        onClose(`handshake refused: ${head.split('\r\n')[0]}`);
        socket.destroy();
        return;
      }
      open = true;
      buffer = buffer.subarray(end + 4);
    }
    for (;;) {
      if (buffer.length < 2) return;
      const b0 = buffer[0]!;
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) return;
      const payload = buffer.subarray(offset, offset + length);
      buffer = buffer.subarray(offset + length);
      const opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      if (opcode === 0x8) {
        closed = true;
        onClose(`close frame ${payload.length >= 2 ? payload.readUInt16BE(0) : 1005}`);
        socket.destroy();
        return;
      } else if (opcode === 0x9) socket.write(maskedFrame(0xa, Buffer.from(payload)));
      else if (opcode === 0x1 || opcode === 0x0) {
        if (!fin) fragments.push(Buffer.from(payload));
        else if (fragments.length > 0) {
          fragments.push(payload);
          const whole = Buffer.concat(fragments);
          fragments = [];
          onText(whole.toString('utf8'), send);
        } else onText(payload.toString('utf8'), send);
      }
    }
  });
  socket.on('error', (error) => {
    if (!closed) onClose(`socket error: ${error.message}`);
    closed = true;
  });
  socket.on('close', () => {
    if (!closed) onClose('socket closed');
    closed = true;
  });
  return {
    close: () => {
      closed = true;
      socket.destroy();
    },
    fail: (why) => {
      if (closed) return;
      closed = true;
      onClose(why);
      socket.destroy();
    },
  };
}
