// The demo server of `npm start`: one HTTP server on one port serving the pages in web/ and the
// realtime client's browser bundle, and four WebSocket endpoints, routed by path through
// `noServer` + `handleUpgrade`: /echo (echo), /clock (the time every second), /chat (seed 004's
// plain broadcast chat room) and /realtime (the messaging layer: the chat page's rooms).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from '../index.js';
import { ChatRealtime } from './chat-realtime.js';
import { ChatRoom } from './chat-room.js';
import { ClockFeed } from './clock-feed.js';
import { listenUrl } from './listen-url.js';
import { serveStatic } from './serve-static.js';

/** The page's folder. Both this source file (src/cli/) and its build (dist/cli/) sit two levels below the repository root. */
export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));
/** The folder of the realtime client's browser bundle, built by `npm run build` (scripts/build-browser-bundle.mjs). */
export const BROWSER_BUNDLE_DIR = fileURLToPath(new URL('../../dist/browser/', import.meta.url));
/** Where the pages load the bundle from: `import { RealtimeClient } from '/tidewire-realtime.js'`. */
export const BROWSER_BUNDLE_PATH = '/tidewire-realtime.js';
const BROWSER_BUNDLE_FILE = '/tidewire-realtime.min.js';

export interface DemoServerOptions {
  port: number;
  host?: string;
}

export interface DemoServer {
  /** `http://host:port`; the WebSocket endpoints are `ws://host:port/echo` and so on, the messaging layer's `ws://host:port/realtime`. */
  url: string;
  close(): Promise<void>;
}

interface Endpoint {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): Promise<void>;
}

/** Starts the demo server; resolves once it listens, rejects on a listen error (EADDRINUSE …). */
export async function startDemoServer({ port, host = '127.0.0.1' }: DemoServerOptions): Promise<DemoServer> {
  const endpoints = new Map<string, Endpoint>([
    ['/echo', echoEndpoint()],
    ['/clock', new ClockFeed()],
    ['/chat', new ChatRoom()],
    ['/realtime', new ChatRealtime()],
  ]);

  const server = createServer((req, res) => {
    handleRequest(req, res, endpoints).catch((error: unknown) => {
      process.stderr.write(`tidewire demo: ${req.url ?? ''}: ${error instanceof Error ? error.message : String(error)}\n`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const endpoint = endpoints.get(pathOf(req.url));
    if (endpoint === undefined) {
      rejectUpgrade(socket, '404 Not Found');
      return;
    }
    endpoint.handleUpgrade(req, socket, head);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  return {
    url: listenUrl('http', host, actualPort),
    close: async () => {
      // Endpoints first: each connection gets its 1001 close; then the HTTP server stops.
      await Promise.all([...endpoints.values()].map((endpoint) => endpoint.close()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}

async function handleRequest(req: IncomingMessage, res: ServerResponse, endpoints: Map<string, Endpoint>): Promise<void> {
  const pathname = pathOf(req.url);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    return;
  }
  if (endpoints.has(pathname)) {
    // RFC 9110 §15.5.22: a WebSocket endpoint asked over plain HTTP says which upgrade it needs.
    res.writeHead(426, { upgrade: 'websocket', connection: 'Upgrade', 'content-type': 'text/plain; charset=utf-8' });
    res.end('this is a WebSocket endpoint\n');
    return;
  }
  if (pathname === BROWSER_BUNDLE_PATH) {
    if (await serveStatic(req, res, BROWSER_BUNDLE_FILE, BROWSER_BUNDLE_DIR)) return;
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('the browser bundle is not built: run `npm run build`\n');
    return;
  }
  if (await serveStatic(req, res, pathname, WEB_ROOT)) return;
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
}

function echoEndpoint(): Endpoint {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: true });
  wss.on('connection', (ws: WebSocket) => {
    ws.on('error', ignore);
    ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
  });
  return {
    handleUpgrade: (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
    close: () => new Promise((resolve) => wss.close(() => resolve())),
  };
}

// The path without the query. Not `new URL(req.url, base)`: that reads "//host/x" as another host.
function pathOf(url: string | undefined): string {
  return (url ?? '/').split('?', 1)[0] ?? '/';
}

// An upgrade for a path nobody serves: a plain HTTP answer, then the socket goes away.
function rejectUpgrade(socket: Duplex, status: string): void {
  socket.on('error', ignore);
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nnot found\n`);
}

function ignore(): void {}
