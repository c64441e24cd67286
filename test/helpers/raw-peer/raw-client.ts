// The raw client: a handshake request built (or broken) exactly as a test asks, written on a real
// TCP socket, and the peer that speaks frames once the server under test answers 101.

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { DEFAULT_TIMEOUT_MS } from '../with-timeout.js';
import { toBuffer, type Bytes } from './bytes.js';
import { DeflateCodec, deflateParamsFrom, parseExtensions } from './deflate-codec.js';
import { HttpResponse } from './http-head.js';
import { serverResponseProblems } from './opening-handshake.js';
import { RawPeer, type WriteOptions } from './raw-peer.js';
import { SocketReader } from './socket-reader.js';

export interface ConnectOptions {
  host?: string;
  path?: string;
  method?: string;
  httpVersion?: string;
  /** Sec-WebSocket-Key; a fresh valid one by default. */
  key?: string;
  /** Merged over the default headers (case-insensitive); null removes one, an array writes several lines. */
  headers?: Record<string, string | string[] | null>;
  protocols?: string[];
  /** Sec-WebSocket-Extensions value, e.g. "permessage-deflate; client_max_window_bits". */
  extensions?: string;
  /** Exactly these bytes instead of a built request. */
  request?: Bytes;
  /** Bytes written in the same TCP write right after the request (frames before the 101 arrives). */
  extraRequestBytes?: Uint8Array;
  /** Write the request in pieces (see WriteOptions). */
  requestSplit?: WriteOptions;
  timeoutMs?: number;
}

/** The raw client's peer, with the handshake response it got. */
export class RawClient extends RawPeer {
  constructor(
    reader: SocketReader,
    readonly key: string,
    public response: HttpResponse,
  ) {
    super('client', reader);
  }
}

export function buildRequest(port: number, options: ConnectOptions, key: string): string {
  const defaults: [string, string | string[]][] = [
    ['Host', `${options.host ?? '127.0.0.1'}:${port}`],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', key],
    ['Sec-WebSocket-Version', '13'],
  ];
  if (options.protocols !== undefined) defaults.push(['Sec-WebSocket-Protocol', options.protocols.join(', ')]);
  if (options.extensions !== undefined) defaults.push(['Sec-WebSocket-Extensions', options.extensions]);
  const lines = new Map<string, [string, string | string[] | null]>();
  for (const [name, value] of defaults) lines.set(name.toLowerCase(), [name, value]);
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.set(name.toLowerCase(), [name, value]);
  let head = `${options.method ?? 'GET'} ${options.path ?? '/'} ${options.httpVersion ?? 'HTTP/1.1'}\r\n`;
  for (const [name, value] of lines.values()) {
    if (value === null) continue;
    for (const one of Array.isArray(value) ? value : [value]) head += `${name}: ${one}\r\n`;
  }
  return `${head}\r\n`;
}

export function openTcp(port: number, host = '127.0.0.1'): Promise<SocketReader> {
  return new Promise((resolve, reject) => {
    // Like any TCP stack, our side ends when the endpoint's FIN arrives (allowHalfOpen false).
    const socket = net.connect({ port, host });
    socket.setNoDelay(true);
    const reader = new SocketReader(socket);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(reader);
    });
    socket.once('error', reject);
  });
}

/** Reads a non-101 response's body: Content-Length bytes, or up to the TCP close. */
async function readBody(reader: SocketReader, response: HttpResponse, timeoutMs: number): Promise<void> {
  const lengthHeader = response.get('content-length');
  if (lengthHeader !== undefined) {
    const length = Number(lengthHeader);
    await reader.waitFor(() => (reader.length >= length ? true : undefined), timeoutMs, 'the response body').catch(() => undefined);
    response.body = reader.take(Math.min(length, reader.length));
  } else {
    await reader.waitForEnd(timeoutMs).catch(() => undefined);
    response.body = reader.takeAll();
  }
}

/**
 * Opens TCP, writes a handshake request we control and parses the response. On a 101 the rest of
 * the stream is frames; otherwise the body is read and the peer is returned for TCP checks.
 */
export async function connectRaw(port: number, options: ConnectOptions = {}): Promise<RawClient> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const key = options.key ?? randomBytes(16).toString('base64');
  const reader = await openTcp(port, options.host);
  const request = options.request !== undefined ? toBuffer(options.request) : Buffer.from(buildRequest(port, options, key), 'latin1');
  const peer = new RawClient(reader, key, new HttpResponse(''));
  await peer.writeRaw(Buffer.concat([request, options.extraRequestBytes ?? Buffer.alloc(0)]), options.requestSplit);
  let head: string;
  try {
    head = await reader.readHead(timeoutMs);
  } catch (error) {
    reader.socket.destroy();
    throw error;
  }
  peer.response = new HttpResponse(head);
  if (peer.response.status === 101) {
    const offered = parseExtensions(peer.response.get('sec-websocket-extensions'));
    const pmd = offered.find((e) => e.name === 'permessage-deflate');
    if (pmd !== undefined) peer.deflate = new DeflateCodec(deflateParamsFrom(pmd), 'client');
  } else {
    await readBody(reader, peer.response, timeoutMs);
  }
  return peer;
}

/** connectRaw that insists on a valid 101 (RFC 6455 §4.2.2) before handing the peer over. */
export async function openWebSocket(port: number, options: ConnectOptions = {}): Promise<RawClient> {
  const peer = await connectRaw(port, options);
  const problems = serverResponseProblems(peer.response, peer.key);
  if (problems.length > 0) {
    peer.destroy();
    throw new Error(`bad opening handshake response: ${problems.join('; ')}`);
  }
  return peer;
}

/** Writes bytes that may not be a handshake at all and collects whatever comes back until TCP closes. */
export async function rawExchange(
  port: number,
  bytes: Bytes,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<{ response: HttpResponse | undefined; raw: Buffer; closed: boolean }> {
  const reader = await openTcp(port);
  reader.socket.write(toBuffer(bytes));
  const closed = await reader.waitForEnd(timeoutMs).then(
    () => true,
    () => false,
  );
  const raw = reader.takeAll();
  reader.socket.destroy();
  const headEnd = raw.indexOf('\r\n\r\n');
  let response: HttpResponse | undefined;
  if (raw.subarray(0, 5).toString('latin1') === 'HTTP/' && headEnd >= 0) {
    response = new HttpResponse(raw.subarray(0, headEnd + 4).toString('latin1'));
    response.body = raw.subarray(headEnd + 4);
  }
  return { response, raw, closed };
}
