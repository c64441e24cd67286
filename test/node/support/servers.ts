// Starting and stopping the endpoints of a test: a standalone WebSocketServer on a free port,
// clients that are open before the test goes on, and a teardown that never leaves a socket behind.

import type { TestContext } from 'node:test';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type WebSocketOptions, type WebSocketServerOptions } from '../../../src/index.js';
import { within, EVENT_TIMEOUT_MS } from './events.js';

const teardowns = new WeakMap<TestContext, (() => unknown)[]>();

/**
 * Runs `fn` when the test ends, last registered first (node:test runs t.after hooks first-in
 * first-out, which would close an http server before the WebSocket connections on it).
 */
export function onTeardown(t: TestContext, fn: () => unknown): void {
  let stack = teardowns.get(t);
  if (stack === undefined) {
    const fresh: (() => unknown)[] = [];
    teardowns.set(t, fresh);
    t.after(async () => {
      for (let next = fresh.pop(); next !== undefined; next = fresh.pop()) await next();
    });
    stack = fresh;
  }
  stack.push(fn);
}

export interface StartedServer {
  wss: WebSocketServer;
  port: number;
  url: string;
}

/** A standalone server on 127.0.0.1 and a free port, listening; closed when the test ends. */
export async function startServer(t: TestContext, options: Omit<WebSocketServerOptions, 'port' | 'server' | 'noServer'> = {}): Promise<StartedServer> {
  const wss = trackClose(new WebSocketServer({ host: '127.0.0.1', ...options, port: 0 }));
  await within(new Promise<void>((resolve, reject) => {
    wss.once('listening', () => resolve());
    wss.once('error', reject);
  }), 'server listening');
  onTeardown(t, () => stopServer(wss));
  const port = (wss.address() as AddressInfo).port;
  return { wss, port, url: `ws://127.0.0.1:${port}/` };
}

const closedServers = new WeakSet<WebSocketServer>();

/**
 * Drops every connection and closes the server. A server the test closed itself is left alone:
 * close() on a server that already closed is a test subject (server.test.ts), not teardown.
 */
export function stopServer(wss: WebSocketServer): Promise<void> {
  if (closedServers.has(wss)) return Promise.resolve();
  for (const ws of wss.clients) ws.terminate();
  return within(new Promise<void>((resolve) => wss.close(() => resolve())), 'server close', EVENT_TIMEOUT_MS);
}

/** Remembers when a server emits 'close', so that teardown does not close it again. */
export function trackClose(wss: WebSocketServer): WebSocketServer {
  wss.once('close', () => closedServers.add(wss));
  return wss;
}

/** A client that is terminated when the test ends. */
export function newClient(t: TestContext, url: string | URL, protocols?: string | string[], options?: WebSocketOptions): WebSocket {
  const ws = new WebSocket(url, protocols, options);
  onTeardown(t, () => ws.terminate());
  return ws;
}

/** A client that is open (or the test fails with the error it reported). */
export async function openClient(t: TestContext, url: string | URL, protocols?: string | string[], options?: WebSocketOptions): Promise<WebSocket> {
  const ws = newClient(t, url, protocols, options);
  await within(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (error: Error) => reject(error));
    }),
    `client open (${String(url)})`,
  );
  return ws;
}
