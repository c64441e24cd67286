// One production node of `tidewire serve`: an HTTP(S) server carrying the messaging layer on one
// path, a /healthz endpoint for load balancers, and a graceful close (healthz turns 503, the
// listener stops, sessions get 1001 so their clients reconnect to another node, the broker closes).

import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import { msgpackCodec, protobufCodec } from '../codecs/index.js';
import { RealtimeServer, type Authenticate, type Broker, type RealtimeServerOptions } from '../index.js';
import { listenUrl } from './listen-url.js';

export const HEALTH_PATH = '/healthz';
/** How long a close waits for connections to end on their own before it cuts them. */
const CLOSE_GRACE_MS = 5_000;

type Server = HttpServer | HttpsServer;

export interface ServeNodeOptions {
  port: number;
  host: string;
  /** The messaging layer's path (default /realtime). */
  path: string;
  /** This node's name in logs and in /healthz. */
  nodeId: string;
  /** Where channels live; closed by close(). */
  broker: Broker;
  /** PEM certificate and key: https + wss instead of http + ws. */
  tls?: { cert: Buffer; key: Buffer };
  /** Origin allowlist; other origins get HTTP 403 (requests without Origin pass). */
  allowedOrigins?: string[];
  authenticate?: Authenticate;
  canSubscribe?: RealtimeServerOptions['canSubscribe'];
  canPublish?: RealtimeServerOptions['canPublish'];
  maxOutboundBytes?: number;
  heartbeatIntervalMs?: number;
  /**
   * On close(), how long /healthz answers 503 while the node still serves, before it stops
   * accepting and closes its sessions (default 0): time for a balancer's health checks to notice.
   */
  drainMs?: number;
  log: (line: string) => void;
}

export interface ServeNode {
  /** `ws://host:port/realtime` (or wss://). */
  url: string;
  /** `http://host:port/healthz` (or https://). */
  healthUrl: string;
  /** Graceful stop; a second call returns the same promise. */
  close(): Promise<void>;
}

/** Starts a node; resolves once it listens, rejects on a listen error (the broker is then closed). */
export async function startServeNode(options: ServeNodeOptions): Promise<ServeNode> {
  let closing: Promise<void> | null = null;
  const server: Server = options.tls !== undefined ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }) : createHttpServer();
  const rt = new RealtimeServer({
    server,
    path: options.path,
    broker: options.broker,
    codecs: [msgpackCodec, protobufCodec], // JSON is always there: clients choose by subprotocol
    ...(options.authenticate !== undefined ? { authenticate: options.authenticate } : {}),
    ...(options.canSubscribe !== undefined ? { canSubscribe: options.canSubscribe } : {}),
    ...(options.canPublish !== undefined ? { canPublish: options.canPublish } : {}),
    ...(options.allowedOrigins !== undefined && options.allowedOrigins.length > 0 ? { allowedOrigins: options.allowedOrigins } : {}),
    ...(options.maxOutboundBytes !== undefined ? { maxOutboundBytes: options.maxOutboundBytes } : {}),
    ...(options.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: options.heartbeatIntervalMs } : {}),
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => answerHttp(req, res, { options, closing: closing !== null, sessions: rt.sessions.size }));
  rt.on('error', (error: unknown) => options.log(`error: ${error instanceof Error ? error.message : String(error)}`));
  try {
    await listen(server, options.port, options.host);
  } catch (error) {
    await rt.close();
    await options.broker.close();
    throw error;
  }
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const secure = options.tls !== undefined ? 's' : '';
  return {
    url: listenUrl('ws', options.host, port).replace(/^ws/, `ws${secure}`) + options.path,
    healthUrl: listenUrl('http', options.host, port).replace(/^http/, `http${secure}`) + HEALTH_PATH,
    close: () => {
      closing ??= delay(options.drainMs ?? 0).then(() => shutDown(server, rt, options.broker));
      return closing;
    },
  };
}

async function shutDown(server: Server, rt: RealtimeServer, broker: Broker): Promise<void> {
  // Stop accepting first, so no new session starts on a node that is going away.
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  await rt.close(); // every session gets 1001 (going away): its client reconnects, through the balancer, elsewhere
  await broker.close();
  server.closeIdleConnections();
  // A peer that never finishes its close handshake must not hold the shutdown forever.
  const ac = new AbortController();
  await Promise.race([stopped, delay(CLOSE_GRACE_MS, undefined, { signal: ac.signal }).then(() => server.closeAllConnections(), () => {})]);
  ac.abort();
  await stopped;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

interface HttpState {
  options: ServeNodeOptions;
  closing: boolean;
  sessions: number;
}

/** Plain HTTP: /healthz for the balancer, 426 on the messaging path, 404 elsewhere. */
function answerHttp(req: IncomingMessage, res: ServerResponse, { options, closing, sessions }: HttpState): void {
  const pathname = (req.url ?? '/').split('?')[0];
  const text = (status: number, body: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers }).end(req.method === 'HEAD' ? undefined : body);
  };
  if (pathname === HEALTH_PATH) {
    // 503 while shutting down: a balancer with health checks stops sending new clients here.
    if (closing) return text(503, `shutting down ${options.nodeId}\n`, { connection: 'close' });
    return text(200, `ok ${options.nodeId} sessions=${sessions}\n`);
  }
  if (pathname === options.path) {
    // RFC 9110 §15.5.22: a WebSocket endpoint asked over plain HTTP says which upgrade it needs.
    return text(426, 'this is a WebSocket endpoint\n', { upgrade: 'websocket', connection: 'Upgrade' });
  }
  text(404, 'not found\n');
}
