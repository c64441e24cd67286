// The endpoints under test of the conformance suite, set up to echo: a tidewire WebSocketServer that
// the raw client reaches, and tidewire clients that connect to the raw server. Unlike raw-peer/,
// this file imports src/: it builds the code under test, it never checks it.

import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import { WebSocket, WebSocketServer, type WebSocketOptions, type WebSocketServerOptions } from '../../src/index.js';
import { AppRegistry, clientTarget, serverTarget, type Target } from './raw-peer.js';

/** Called with each application object as soon as it exists, before anything can happen on it. */
export type OnEndpoint = (ws: WebSocket, side: 'server' | 'client') => void;

export interface EchoOptions {
  /** Merged over the echo server's defaults (127.0.0.1, a free port, no heartbeat). */
  server?: Partial<WebSocketServerOptions>;
  /** The echo client's options. */
  client?: WebSocketOptions;
  onEndpoint?: OnEndpoint;
}

/** A server under test whose connections echo, with its port for raw connections of a test's own. */
export interface EchoServerTarget extends Target<WebSocket> {
  readonly port: number;
  readonly wss: WebSocketServer;
}

function echoEverything(ws: WebSocket): void {
  ws.on('error', () => {});
  ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
}

export async function startEchoServer(options: Partial<WebSocketServerOptions> = {}, onEndpoint?: OnEndpoint): Promise<EchoServerTarget> {
  const apps = new AppRegistry<WebSocket>();
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeatIntervalMs: 0, ...options });
  await once(wss, 'listening');
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    onEndpoint?.(ws, 'server');
    echoEverything(ws);
    apps.register(req.socket.remotePort, ws);
  });
  const port = (wss.address() as AddressInfo).port;
  return { ...serverTarget(port, apps, () => new Promise((resolve) => wss.close(() => resolve()))), port, wss };
}

/** What clientTarget() starts for each connection: a client that echoes. */
export function echoClient(options: WebSocketOptions = {}, onEndpoint?: OnEndpoint): (url: string) => WebSocket {
  return (url) => {
    const ws = new WebSocket(url, undefined, options);
    onEndpoint?.(ws, 'client');
    echoEverything(ws);
    return ws;
  };
}

export function startEchoClientTarget(options: WebSocketOptions = {}, onEndpoint?: OnEndpoint): Promise<Target<WebSocket>> {
  return clientTarget(echoClient(options, onEndpoint));
}

/** The echoing endpoint of one side: what forBothSides() starts for each of its suites. */
export function startEchoTarget(side: 'server' | 'client', options: EchoOptions = {}): Promise<Target<WebSocket>> {
  return side === 'server' ? startEchoServer(options.server, options.onEndpoint) : startEchoClientTarget(options.client, options.onEndpoint);
}

export interface EchoPair {
  server: EchoServerTarget;
  client: Target<WebSocket>;
}

/**
 * Both echoing endpoints for the suite this is called in: started before its tests, closed after
 * them. Read the returned function inside a test.
 */
export function useEchoPair(options: EchoOptions = {}): () => EchoPair {
  let pair: Partial<EchoPair> = {};
  before(async () => {
    pair = { server: await startEchoServer(options.server, options.onEndpoint) };
    pair.client = await startEchoClientTarget(options.client, options.onEndpoint);
  });
  after(async () => {
    await pair.server?.close();
    await pair.client?.close();
  });
  return () => pair as EchoPair;
}

/** One side's echoing endpoint for the suite this is called in, started before its tests and closed after. */
export function useEchoTarget(side: 'server' | 'client', options: EchoOptions = {}): () => Target<WebSocket> {
  let target: Target<WebSocket> | undefined;
  before(async () => {
    target = await startEchoTarget(side, options);
  });
  after(() => target?.close());
  return () => target!;
}
