// WebSocketServer with the `ws` API the seeds use: standalone ({ port }), sharing an http(s)
// server ({ server, path }), or driven by the application ({ noServer } + handleUpgrade).

import { EventEmitter } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import type https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { CloseCode } from '../protocol/close-codes.js';
import { resolveLimits, type Limits } from '../protocol/limits.js';
import { validateDeflateOptions, type DeflateOptions } from '../protocol/permessage-deflate.js';
import { answerHandshake, answerHandshakeNow, reject, type Accepted, type HandleProtocols, type HandshakePolicy, type VerifyClient } from './server-handshake.js';
import { Heartbeat } from './heartbeat.js';
import { ACCEPTED, ReadyState, WebSocket } from './websocket.js';
import { prepareMessage } from './prepared-message.js';

export interface WebSocketServerOptions {
  port?: number;
  host?: string;
  server?: http.Server | https.Server;
  path?: string;
  noServer?: boolean;
  verifyClient?: VerifyClient;
  handleProtocols?: HandleProtocols;
  /** Origin allowlist ("scheme://host[:port]"); other origins get 403. Requests without Origin (non-browsers) pass. */
  allowedOrigins?: string[];
  /** Largest message in bytes (shorthand for limits.maxMessageBytes). */
  maxPayload?: number;
  limits?: Partial<Limits>;
  /** permessage-deflate; off by default on the server (it costs memory per connection). */
  perMessageDeflate?: boolean | DeflateOptions;
  /** Ping every N ms and terminate connections that showed no sign of life since the last ping; 0 = off. */
  heartbeatIntervalMs?: number;
  clientTracking?: boolean;
}

const DEFAULT_HEARTBEAT_INTERVAL_MS = 30_000;

export class WebSocketServer extends EventEmitter {
  readonly options: WebSocketServerOptions;
  private readonly limits: Limits;
  private readonly policy: HandshakePolicy;
  private readonly connections = new Set<WebSocket>();
  private readonly heartbeat: Heartbeat | null;
  private httpServer: http.Server | https.Server | null = null;
  private ownsServer = false;
  private closing = false;
  private closed = false;

  constructor(options: WebSocketServerOptions, onListening?: () => void) {
    super();
    const modes = [options.port !== undefined, options.server !== undefined, options.noServer === true].filter(Boolean).length;
    if (modes !== 1) throw new TypeError('Exactly one of "port", "server" or "noServer" must be given');
    this.options = options;
    this.limits = resolveLimits({ ...options.limits, ...(options.maxPayload !== undefined ? { maxMessageBytes: options.maxPayload } : {}) });
    const deflate = options.perMessageDeflate === true ? {} : options.perMessageDeflate || null;
    if (deflate !== null) validateDeflateOptions(deflate, 'server');
    this.policy = {
      allowedOrigins: options.allowedOrigins ? new Set(options.allowedOrigins) : null,
      verifyClient: options.verifyClient,
      handleProtocols: options.handleProtocols,
      deflate,
      maxHeaderCount: this.limits.maxHandshakeHeaderCount,
      isShuttingDown: () => this.closing,
    };
    const interval = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.heartbeat = interval > 0 ? new Heartbeat(this.connections, interval) : null;
    if (options.port !== undefined) this.listen(options.port, options.host, onListening);
    else if (options.server !== undefined) this.attach(options.server);
  }

  /** Connections that are open or closing (the `ws` API; empty when clientTracking is false). */
  get clients(): Set<WebSocket> {
    return this.options.clientTracking === false ? new Set() : this.connections;
  }

  address(): AddressInfo | string | null {
    if (this.httpServer === null) throw new Error('The server is not listening (noServer mode)');
    return this.httpServer.address();
  }

  /** Does this server answer this request (its path matches)? */
  shouldHandle(req: IncomingMessage): boolean {
    if (this.options.path === undefined) return true;
    const path = (req.url ?? '/').split('?')[0];
    return path === this.options.path;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, callback: (ws: WebSocket, req: IncomingMessage) => void): void {
    if (this.closing) return void reject(socket, 503, 'The server is shutting down');
    if (!this.shouldHandle(req)) return void reject(socket, 400, 'Unknown WebSocket path');
    if (this.policy.verifyClient === undefined) {
      const accepted = answerHandshakeNow(req, socket, this.policy);
      if (accepted !== null) this.open(req, socket, head, accepted, callback);
      return;
    }
    // verifyClient may take its time: bound it, and keep a reset peer from crashing us meanwhile.
    socket.on('error', ignoreError);
    const timer = setTimeout(() => socket.destroy(), this.limits.handshakeTimeoutMs);
    answerHandshake(req, socket, this.policy).then(
      (accepted) => {
        clearTimeout(timer);
        socket.removeListener('error', ignoreError);
        if (accepted === null || socket.destroyed) return;
        if (this.closing) return void socket.destroy(); // shut down while the handshake was answered
        this.open(req, socket, head, accepted, callback);
      },
      (error: unknown) => {
        clearTimeout(timer);
        this.emit('error', error);
        reject(socket, 500, 'Internal error during the handshake');
      },
    );
  }

  /** The 101 is written: the connection becomes a WebSocket. Keeps nothing of the request (a method, not a closure). */
  private open(req: IncomingMessage, socket: Duplex, head: Buffer, accepted: Accepted, callback: (ws: WebSocket, req: IncomingMessage) => void): void {
    const ws = new WebSocket(requestUrl(req), undefined, {
      [ACCEPTED]: {
        socket,
        head,
        role: 'server',
        protocol: accepted.protocol,
        extensions: accepted.extensions,
        deflate: accepted.deflate === null ? null : { params: accepted.deflate, options: this.policy.deflate ?? {} },
        limits: this.limits,
      },
    });
    ws.trackIn(this.connections);
    callback(ws, req);
    ws.startReading(head); // also when the handler already closed it: the closing handshake needs the reads
  }

  /** Sends one message to every open connection, framed once. Returns how many it was sent to. */
  broadcast(data: string | Buffer, options: { binary?: boolean } = {}): number {
    const prepared = prepareMessage(data, options.binary ?? typeof data !== 'string');
    let receivers = 0;
    for (const ws of this.connections) {
      if (ws.sendPrepared(prepared)) receivers++;
    }
    return receivers;
  }

  /** Stops accepting, closes every connection with 1001, and calls back once all are closed. */
  close(callback?: (error?: Error) => void): void {
    if (this.closed) {
      if (callback) process.nextTick(callback, new Error('The server is not running'));
      return;
    }
    if (this.closing) {
      if (callback) this.once('close', () => callback());
      return;
    }
    this.closing = true;
    this.heartbeat?.stop();
    const pending: Promise<void>[] = [];
    for (const ws of this.connections) {
      pending.push(new Promise((resolve) => ws.once('close', () => resolve())));
      if (ws.readyState === ReadyState.OPEN) ws.close(CloseCode.GOING_AWAY, 'server shutting down');
    }
    if (this.httpServer !== null) {
      this.httpServer.removeListener('upgrade', this.onUpgrade);
      if (this.ownsServer) pending.push(new Promise((resolve) => this.httpServer!.close(() => resolve())));
    }
    Promise.all(pending).then(() => {
      this.closed = true;
      this.emit('close');
      callback?.();
    });
  }

  private listen(port: number, host: string | undefined, onListening: (() => void) | undefined): void {
    const server = http.createServer({
      maxHeaderSize: this.limits.maxHandshakeHeaderBytes,
      headersTimeout: this.limits.handshakeTimeoutMs,
      requestTimeout: this.limits.handshakeTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, this.limits.handshakeTimeoutMs / 2)),
    });
    server.maxHeadersCount = this.limits.maxHandshakeHeaderCount + 1; // keep one more so the excess is seen
    server.on('request', (_req, res) => {
      const body = 'Upgrade Required: this is a WebSocket endpoint';
      res.writeHead(426, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body), Upgrade: 'websocket', Connection: 'close' });
      res.end(body);
    });
    this.ownsServer = true;
    this.attach(server);
    server.on('listening', () => this.emit('listening'));
    if (onListening) this.once('listening', onListening);
    server.listen(port, host);
  }

  private attach(server: http.Server | https.Server): void {
    this.httpServer = server;
    upgradeListeners.set(this.onUpgrade, this);
    server.on('upgrade', this.onUpgrade);
    server.on('error', (error) => this.emit('error', error));
  }

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (!this.shouldHandle(req) && !this.answersUnclaimed(req)) return; // another upgrade listener owns this path
    this.handleUpgrade(req, socket, head, (ws) => this.emit('connection', ws, req));
  };

  /**
   * Whether this server answers (400) an upgrade that it does not handle. Alone on its http server
   * it does. Next to an application's own upgrade listener it does not: that one may own the path.
   * Next to other tidewire servers only, the last of them answers when none handles the path, so a
   * request for an unknown path is refused once instead of left hanging.
   */
  private answersUnclaimed(req: IncomingMessage): boolean {
    const listeners = this.httpServer?.listeners('upgrade') ?? [];
    if (this.ownsServer || listeners.length <= 1) return true;
    for (const listener of listeners) {
      const server = upgradeListeners.get(listener);
      if (server === undefined || server.shouldHandle(req)) return false;
    }
    return listeners[listeners.length - 1] === this.onUpgrade;
  }
}

/** The upgrade listener of each attached server, to tell tidewire's listeners from the application's. */
const upgradeListeners = new WeakMap<Function, WebSocketServer>();

WebSocket.Server = WebSocketServer;
WebSocket.WebSocketServer = WebSocketServer;

function ignoreError(): void {}

function requestUrl(req: IncomingMessage): string {
  const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
  return `${secure ? 'wss' : 'ws'}://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`;
}
