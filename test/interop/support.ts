// Helpers shared by the interop tests: timeouts with a label, message inboxes, and the close
// of a tidewire WebSocket as seen through both its ws-style and its WHATWG API.

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { CloseEvent, type WebSocket } from '../../src/index.js';
import { withTimeout } from '../helpers/with-timeout.js';
import { AsyncQueue } from './async-queue.js';

export const MIB = 1024 * 1024;
/** A deflated 1 MiB run of one letter is a few KiB on the wire; an uncompressed one is 1 MiB. */
export const COMPRESSED_BYTES_BOUND = 64 * 1024;

export interface Received {
  data: Buffer;
  isBinary: boolean;
}

export interface CloseSeen {
  code: number;
  reason: string;
  wasClean: boolean;
}

export function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  throw new TypeError(`unexpected message data ${Object.prototype.toString.call(data)}`);
}

/** `promise`, or a rejection naming what did not happen within `timeoutMs`. */
export function within<T>(promise: Promise<T>, label: string, timeoutMs = 10_000): Promise<T> {
  return withTimeout(promise, timeoutMs, label);
}

/** The close as tidewire reports it through its 'close' event and its CloseEvent, checked to agree. */
export function tidewireClosed(ws: WebSocket, label: string): Promise<CloseSeen> {
  const emitted = new Promise<[number, Buffer]>((resolve) => {
    ws.once('close', (code: number, reason: Buffer) => resolve([code, reason]));
  });
  const event = new Promise<CloseSeen>((resolve) => {
    ws.addEventListener('close', (e) => {
      assert.ok(e instanceof CloseEvent, `${label}: the 'close' listener got a ${e.constructor.name}, not a CloseEvent`);
      resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
    });
  });
  return within(
    Promise.all([emitted, event]).then(([[code, reason], seen]) => {
      assert.equal(code, seen.code, `${label}: 'close' event and CloseEvent disagree on the code`);
      assert.equal(reason.toString(), seen.reason, `${label}: 'close' event and CloseEvent disagree on the reason`);
      return seen;
    }),
    label,
  );
}

/** Every 'message' of a tidewire WebSocket, in order, from the moment this is called. */
export function tidewireMessages(ws: WebSocket, label: string): AsyncQueue<Received> {
  const messages = new AsyncQueue<Received>(label);
  ws.on('message', (data: Buffer, isBinary: boolean) => messages.push({ data: toBuffer(data), isBinary }));
  return messages;
}

/** Extension names of a Sec-WebSocket-Extensions value, without their parameters. */
/** The port of a listening server (`address()` is typed AddressInfo | string | null, as in ws). */
export function portOf(server: { address(): AddressInfo | string | null }): number {
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object', 'server is not listening on a TCP port');
  return address.port;
}

export function extensionNames(header: string): string[] {
  return header
    .split(',')
    .map((offer) => offer.split(';')[0]?.trim() ?? '')
    .filter((name) => name !== '');
}
