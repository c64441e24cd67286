// A WebSocket client on a bare TCP socket whose reading the test controls: it completes the
// opening handshake, then can stop reading (so the server's writes pile up), answer pings or not,
// and put exactly the frames it wants on the wire. It imports nothing from src/ on purpose.

import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { EVENT_TIMEOUT_MS, within } from './events.js';

export const Opcode = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface RawFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  payload: Buffer;
}

export interface RawConnectOptions {
  path?: string;
  headers?: Record<string, string>;
  /** Sec-WebSocket-Extensions offer. */
  extensions?: string;
  /** Stop reading as soon as the handshake response is in. */
  paused?: boolean;
}

/** A masked client frame (RFC 6455 §5.2, §5.3). */
export function encodeClientFrame(opcode: number, payload: Uint8Array, options: { fin?: boolean; rsv1?: boolean } = {}): Buffer {
  const length = payload.length;
  const extended = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + extended + 4);
  head[0] = (options.fin === false ? 0 : 0x80) | (options.rsv1 === true ? 0x40 : 0) | opcode;
  if (extended === 0) head[1] = 0x80 | length;
  else if (extended === 2) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(length, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  const maskKey = randomBytes(4);
  maskKey.copy(head, 2 + extended);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ maskKey[i & 3]!;
  return Buffer.concat([head, body]);
}

/** The first whole (unmasked, server-sent) frame in `bytes` and its size, or undefined. */
export function decodeServerFrame(bytes: Buffer): { frame: RawFrame; size: number } | undefined {
  if (bytes.length < 2) return undefined;
  const short = bytes[1]! & 0x7f;
  let offset = 2;
  let length = short;
  if (short === 126) {
    if (bytes.length < 4) return undefined;
    length = bytes.readUInt16BE(2);
    offset = 4;
  } else if (short === 127) {
    if (bytes.length < 10) return undefined;
    length = Number(bytes.readBigUInt64BE(2));
    offset = 10;
  }
  if ((bytes[1]! & 0x80) !== 0) throw new Error('the server sent a masked frame (RFC 6455 §5.1)');
  if (bytes.length < offset + length) return undefined;
  const b0 = bytes[0]!;
  return {
    frame: { fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0, opcode: b0 & 0x0f, payload: Buffer.from(bytes.subarray(offset, offset + length)) },
    size: offset + length,
  };
}

export class RawClient {
  /** Bytes received after the handshake response and not yet parsed into frames, as received. */
  private chunks: Buffer[] = [];
  private pendingBytes = 0;
  private readonly waiters = new Set<() => void>();
  /** How many 'data' events (TCP reads) delivered bytes after the handshake. */
  reads = 0;
  bytesReceived = 0;
  ended = false;
  status = 0;
  responseHead = '';

  private constructor(readonly socket: net.Socket) {}

  /** Opens TCP, sends an upgrade request and waits for the response head. */
  static async connect(port: number, options: RawConnectOptions = {}): Promise<RawClient> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.setNoDelay(true);
    const client = new RawClient(socket);
    const key = randomBytes(16).toString('base64');
    const headers: Record<string, string> = {
      Host: `127.0.0.1:${port}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
      ...(options.extensions !== undefined ? { 'Sec-WebSocket-Extensions': options.extensions } : {}),
      ...options.headers,
    };
    let request = `GET ${options.path ?? '/'} HTTP/1.1\r\n`;
    for (const [name, value] of Object.entries(headers)) request += `${name}: ${value}\r\n`;
    socket.write(`${request}\r\n`);
    let head = Buffer.alloc(0);
    await within(
      new Promise<void>((resolve, reject) => {
        const onData = (chunk: Buffer): void => {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          socket.off('data', onData);
          socket.off('error', reject);
          if (options.paused === true) socket.pause();
          client.responseHead = head.subarray(0, end).toString('latin1');
          client.status = Number(client.responseHead.split(' ')[1]);
          client.attach(head.subarray(end + 4));
          resolve();
        };
        socket.on('data', onData);
        socket.once('error', reject);
      }),
      'raw client handshake response',
    );
    if (client.status === 101) {
      const accept = /^sec-websocket-accept:\s*(\S+)/im.exec(client.responseHead)?.[1];
      const expected = createHash('sha1').update(key + WS_GUID).digest('base64');
      if (accept !== expected) throw new Error(`bad Sec-WebSocket-Accept: ${accept}`);
    }
    return client;
  }

  private attach(rest: Buffer): void {
    if (rest.length > 0) this.push(rest);
    this.socket.on('data', (chunk: Buffer) => {
      this.reads++;
      this.bytesReceived += chunk.length;
      this.push(chunk);
      this.notify();
    });
    this.socket.on('error', () => {
      this.ended = true;
      this.notify();
    });
    this.socket.on('close', () => {
      this.ended = true;
      this.notify();
    });
  }

  private push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.pendingBytes += chunk.length;
  }

  /** The first `n` pending bytes, joined (n <= pendingBytes); consumed when `consume` is set. */
  private peek(n: number, consume = false): Buffer {
    let out: Buffer;
    if (this.chunks[0]!.length >= n) out = this.chunks[0]!.subarray(0, n);
    else {
      let joined = 0;
      let count = 0;
      while (joined < n) joined += this.chunks[count++]!.length;
      const merged = Buffer.concat(this.chunks.splice(0, count, Buffer.alloc(0)));
      this.chunks[0] = merged;
      out = merged.subarray(0, n);
    }
    if (consume) {
      this.chunks[0] = this.chunks[0]!.subarray(n);
      if (this.chunks[0].length === 0) this.chunks.shift();
      this.pendingBytes -= n;
    }
    return out;
  }

  /** Decodes the next whole frame from the pending bytes, or undefined while incomplete. */
  private takeFrame(): RawFrame | undefined {
    if (this.pendingBytes < 2) return undefined;
    const head = this.peek(Math.min(this.pendingBytes, 10));
    const short = head[1]! & 0x7f;
    const headerBytes = short < 126 ? 2 : short === 126 ? 4 : 10;
    if (head.length < headerBytes) return undefined;
    const length = short < 126 ? short : short === 126 ? head.readUInt16BE(2) : Number(head.readBigUInt64BE(2));
    if (this.pendingBytes < headerBytes + length) return undefined;
    return decodeServerFrame(this.peek(headerBytes + length, true))!.frame;
  }

  /** Pending bytes not yet parsed (after a non-101 response: the body so far). */
  get pending(): Buffer {
    return this.pendingBytes === 0 ? Buffer.alloc(0) : Buffer.from(this.peek(this.pendingBytes));
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** A response header's value (case-insensitive name). */
  header(name: string): string | undefined {
    const line = this.responseHead.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
    return line?.slice(line.indexOf(':') + 1).trim();
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  /** The next frame from the server; control frames included. */
  nextFrame(timeoutMs = EVENT_TIMEOUT_MS): Promise<RawFrame> {
    return within(
      new Promise<RawFrame>((resolve, reject) => {
        const check = (): void => {
          let frame: RawFrame | undefined;
          try {
            frame = this.takeFrame();
          } catch (error) {
            this.waiters.delete(check);
            reject(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          if (frame !== undefined) {
            this.waiters.delete(check);
            resolve(frame);
          } else if (this.ended) {
            this.waiters.delete(check);
            reject(new Error('the server closed TCP while a frame was awaited'));
          }
        };
        this.waiters.add(check);
        check();
      }),
      'a frame from the server',
      timeoutMs,
    );
  }

  /** Frames up to and including the server's close frame; returns its code and the data frames before it. */
  async readUntilClose(timeoutMs = EVENT_TIMEOUT_MS): Promise<{ code: number | undefined; reason: string; before: RawFrame[] }> {
    const before: RawFrame[] = [];
    for (;;) {
      const frame = await this.nextFrame(timeoutMs);
      if (frame.opcode !== Opcode.CLOSE) {
        before.push(frame);
        continue;
      }
      const code = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : undefined;
      return { code, reason: frame.payload.subarray(2).toString('utf8'), before };
    }
  }

  /** After a non-101 response: everything up to the TCP close (the response body). */
  async readBody(timeoutMs = EVENT_TIMEOUT_MS): Promise<string> {
    await this.waitForEnd(timeoutMs);
    return this.pending.toString('utf8');
  }

  /** Resolves when the server closed TCP. */
  waitForEnd(timeoutMs = EVENT_TIMEOUT_MS): Promise<void> {
    return within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (!this.ended) return;
          this.waiters.delete(check);
          resolve();
        };
        this.waiters.add(check);
        check();
      }),
      'the server closing TCP',
      timeoutMs,
    );
  }

  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()));
  }

  sendFrame(opcode: number, payload: Uint8Array | string = Buffer.alloc(0), options: { fin?: boolean; rsv1?: boolean } = {}): Promise<void> {
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    return this.write(encodeClientFrame(opcode, bytes, options));
  }

  /** Sends a close frame with `code`. */
  sendClose(code: number, reason = ''): Promise<void> {
    const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
    payload.writeUInt16BE(code, 0);
    payload.write(reason, 2, 'utf8');
    return this.sendFrame(Opcode.CLOSE, payload);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
