// The echo server behind `tidewire echo`: the Autobahn testsuite's target and the benchmarks'
// peer. Its message handler is the whole hot path, so it stays one line: no logging, no copies.

import { WebSocketServer, type WebSocket } from '../index.js';
import { listenUrl } from './listen-url.js';

export interface EchoServerOptions {
  port: number;
  host: string;
  /** Accept permessage-deflate (RFC 7692) when the client offers it. */
  deflate: boolean;
  /** Largest message accepted (1009 beyond); the core's default when undefined. */
  maxMessageBytes?: number | undefined;
  /** Server ping interval; 0 turns the heartbeat off. */
  heartbeatIntervalMs?: number;
}

export interface EchoServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts a standalone echo server; resolves once it listens, rejects on a listen error (EADDRINUSE …). */
export async function startEchoServer(options: EchoServerOptions): Promise<EchoServer> {
  const wss = new WebSocketServer({
    port: options.port,
    host: options.host,
    perMessageDeflate: options.deflate,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 30_000,
    ...(options.maxMessageBytes === undefined ? {} : { maxPayload: options.maxMessageBytes }),
  });

  wss.on('connection', (ws: WebSocket) => {
    // Peer faults (Autobahn sends hundreds on purpose) surface as 'error' after the core has
    // already closed with the right code; unhandled, the EventEmitter would throw and kill the server.
    ws.on('error', ignore);
    ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
  });

  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  // After startup, a server error is logged rather than thrown: the server keeps serving.
  wss.on('error', (error: Error) => process.stderr.write(`tidewire echo: ${error.message}\n`));

  const address = wss.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    url: listenUrl('ws', options.host, port),
    port,
    close: () => new Promise<void>((resolve) => wss.close(() => resolve())),
  };
}

function ignore(): void {}
