// Waiting on what a WebSocket or a server reports, always with a deadline: a wait that outlives
// it fails with a label naming what never happened, instead of hanging the test run.

import type { IncomingMessage } from 'node:http';
import type { WebSocket, WebSocketServer } from '../../../src/index.js';
import { withTimeout } from '../../helpers/with-timeout.js';

/** How long a test waits for something that should come promptly. */
export const EVENT_TIMEOUT_MS = 4000;

/** `promise`, or a rejection naming what did not happen within `timeoutMs`. */
export function within<T>(promise: Promise<T>, label: string, timeoutMs = EVENT_TIMEOUT_MS): Promise<T> {
  return withTimeout(promise, timeoutMs, label);
}

interface Listenable {
  once(event: string, listener: (...args: any[]) => void): unknown;
}

/** The arguments of the next `event` emitted (ws-style events or an EventEmitter). */
export function nextEvent<T extends unknown[] = unknown[]>(target: Listenable, event: string, label = event, timeoutMs = EVENT_TIMEOUT_MS): Promise<T> {
  return within(new Promise<T>((resolve) => target.once(event, (...args: unknown[]) => resolve(args as T))), label, timeoutMs);
}

/** Resolves after `n` turns of the event loop: lets queued I/O callbacks run without sleeping for a fixed time. */
export async function turns(n = 1): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A FIFO of things that arrive by callback, awaited one at a time with a deadline. */
export class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((item: T) => void)[] = [];

  constructor(
    readonly label: string,
    private readonly maxItems = 100_000,
  ) {}

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) return waiter(item);
    if (this.items.length >= this.maxItems) throw new Error(`${this.label}: more than ${this.maxItems} unread items`);
    this.items.push(item);
  }

  next(timeoutMs = EVENT_TIMEOUT_MS): Promise<T> {
    const ready = this.items.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    let waiter!: (item: T) => void;
    const arrived = new Promise<T>((resolve) => {
      waiter = resolve;
      this.waiters.push(waiter);
    });
    return within(arrived, `${this.label}: next item`, timeoutMs).catch((error: unknown) => {
      const index = this.waiters.indexOf(waiter);
      if (index >= 0) this.waiters.splice(index, 1);
      throw error;
    });
  }

  /** The next `n` items, in order. */
  async take(n: number, timeoutMs = EVENT_TIMEOUT_MS): Promise<T[]> {
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next(timeoutMs));
    return out;
  }

  get size(): number {
    return this.items.length;
  }
}

export interface Received {
  data: Buffer;
  isBinary: boolean;
}

/** Every ws-style 'message' of a WebSocket from now on. */
export function messagesOf(ws: WebSocket, label = 'messages'): Inbox<Received> {
  const inbox = new Inbox<Received>(label);
  ws.on('message', (data: Buffer, isBinary: boolean) => inbox.push({ data, isBinary }));
  return inbox;
}

export interface Accepted {
  ws: WebSocket;
  req: IncomingMessage;
}

/** Every 'connection' of a server from now on, with its request. */
export function connectionsOf(wss: WebSocketServer, label = 'server connections'): Inbox<Accepted> {
  const inbox = new Inbox<Accepted>(label);
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => inbox.push({ ws, req }));
  return inbox;
}

export interface CloseSeen {
  code: number;
  reason: string;
  wasClean: boolean;
}

/**
 * The close as the WHATWG CloseEvent reports it, checked against the ws-style 'close' event
 * (same code and reason). Call it before the close can happen.
 */
export function closeOf(ws: WebSocket, label = 'close', timeoutMs = EVENT_TIMEOUT_MS): Promise<CloseSeen> {
  const emitted = new Promise<[number, Buffer]>((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve([code, reason])));
  const event = new Promise<CloseSeen>((resolve) => {
    ws.addEventListener('close', (e) => {
      const close = e as Event & CloseSeen;
      resolve({ code: close.code, reason: close.reason, wasClean: close.wasClean });
    });
  });
  return within(
    Promise.all([emitted, event]).then(([[code, reason], seen]) => {
      if (code !== seen.code || reason.toString('utf8') !== seen.reason) {
        throw new Error(`${label}: 'close' (${code}, "${reason.toString()}") and CloseEvent (${seen.code}, "${seen.reason}") disagree`);
      }
      return seen;
    }),
    label,
    timeoutMs,
  );
}

/** The ws-style close of a connection (code, reason), for server-side connections. */
export function closeCodeOf(ws: WebSocket, label = 'close', timeoutMs = EVENT_TIMEOUT_MS): Promise<{ code: number; reason: string }> {
  return within(
    new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString('utf8') }))),
    label,
    timeoutMs,
  );
}
