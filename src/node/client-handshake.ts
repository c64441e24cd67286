// The client's opening handshake (RFC 6455 §4.1) over node:http / node:https: parse the URL as
// the browser does, send the upgrade request, check the answer, then hand the socket over.

import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { SecureContextOptions } from 'node:tls';
import { HandshakeError, SyntaxError } from '../protocol/errors.js';
import { buildClientRequestHeaders, generateClientKey, validateServerResponse, validateSubprotocols } from '../protocol/handshake.js';
import type { Limits } from '../protocol/limits.js';
import { acceptServerResponse, buildClientOffer, type DeflateOptions } from '../protocol/permessage-deflate.js';
import type { EstablishedSocket } from './websocket.js';

export interface ClientOptions extends Pick<SecureContextOptions, 'ca' | 'cert' | 'key' | 'passphrase' | 'pfx'> {
  headers?: Record<string, string>;
  origin?: string;
  /** permessage-deflate is offered by default, as browsers do; false to not offer it. */
  perMessageDeflate?: boolean | DeflateOptions;
  /** Largest message accepted (shorthand for limits.maxMessageBytes). */
  maxPayload?: number;
  handshakeTimeoutMs?: number;
  limits?: Partial<Limits>;
  rejectUnauthorized?: boolean;
  servername?: string;
}

/** The parts of WebSocket the handshake drives. */
export interface HandshakeTarget {
  establish(established: EstablishedSocket): void;
  startReading(head: Buffer): void;
  failHandshake(error: Error): void;
  emit(event: string, ...args: unknown[]): boolean;
  dispatchEvent(event: Event): boolean;
  abortHandshake: (() => void) | undefined;
  readonly readyState: number;
}

/** WHATWG "parse a WebSocket URL": ws/wss (http/https mapped), no fragment. */
export function parseWebSocketUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw new SyntaxError(`Invalid WebSocket URL: ${String(input)}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new SyntaxError(`WebSocket URL scheme must be ws: or wss:, got ${url.protocol}`);
  if (url.hash !== '' || String(input).includes('#')) throw new SyntaxError('A WebSocket URL cannot have a fragment');
  return url;
}

/** Starts connecting; returns the serialized URL. Every outcome reaches `target` asynchronously. */
export function connectClient(target: HandshakeTarget, input: string | URL, protocols: string | string[] | undefined, options: ClientOptions, limits: Limits): string {
  const url = parseWebSocketUrl(input);
  const offeredProtocols = validateSubprotocols(protocols);
  const deflateOptions: DeflateOptions | null = options.perMessageDeflate === false ? null : options.perMessageDeflate === true || options.perMessageDeflate === undefined ? {} : options.perMessageDeflate;
  const key = generateClientKey(randomBytes);
  const headers = buildClientRequestHeaders({
    key,
    protocols: offeredProtocols,
    ...(deflateOptions !== null ? { extensions: buildClientOffer(deflateOptions) } : {}),
    headers: { ...(options.origin !== undefined ? { Origin: options.origin } : {}), ...options.headers },
  });
  const secure = url.protocol === 'wss:';
  const request = (secure ? https : http).request({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
    path: `${url.pathname}${url.search}`,
    method: 'GET',
    headers,
    maxHeaderSize: limits.maxHandshakeHeaderBytes,
    agent: false,
    ...(secure ? tlsOptions(options, url) : {}),
  });
  let settled = false;
  const timeoutMs = options.handshakeTimeoutMs ?? limits.handshakeTimeoutMs;
  const timer = setTimeout(() => fail(new HandshakeError(`Opening handshake timed out after ${timeoutMs} ms`, 0)), timeoutMs);
  const fail = (error: Error): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    request.destroy();
    target.failHandshake(error);
  };
  target.abortHandshake = () => fail(new HandshakeError('WebSocket was closed before the connection was established', 0));
  request.on('error', (error) => fail(error));
  request.on('response', (response) => {
    response.resume();
    fail(new HandshakeError(`Unexpected server response: ${response.statusCode ?? 0}`, response.statusCode ?? 0));
  });
  request.on('upgrade', (response: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (settled) return void socket.destroy();
    const checked = validateServerResponse({ statusCode: response.statusCode, headers: response.headers }, { key, protocols: offeredProtocols });
    if (!checked.ok) return void (socket.destroy(), fail(new HandshakeError(checked.reason, response.statusCode ?? 0)));
    const negotiated = deflateOptions === null ? { ok: checked.extensions.length === 0, params: null, reason: 'The server accepted an extension that was not offered' } : acceptServerResponse(checked.extensions, deflateOptions);
    if (!negotiated.ok) return void (socket.destroy(), fail(new HandshakeError('reason' in negotiated ? negotiated.reason : 'extension negotiation failed', 101)));
    settled = true;
    clearTimeout(timer);
    target.abortHandshake = undefined;
    const params = 'params' in negotiated ? negotiated.params : null;
    target.establish({
      socket,
      head,
      role: 'client',
      protocol: checked.protocol,
      extensions: headerText(response.headers['sec-websocket-extensions']),
      deflate: params === null || deflateOptions === null ? null : { params, options: deflateOptions },
      limits,
    });
    target.emit('open');
    target.dispatchEvent(new Event('open'));
    target.startReading(head);
  });
  request.end();
  return url.href;
}

function tlsOptions(options: ClientOptions, url: URL): https.RequestOptions {
  const tls: https.RequestOptions = { servername: options.servername ?? (isIpAddress(url.hostname) ? '' : url.hostname) };
  for (const name of ['ca', 'cert', 'key', 'passphrase', 'pfx', 'rejectUnauthorized'] as const) {
    if (options[name] !== undefined) (tls as Record<string, unknown>)[name] = options[name];
  }
  return tls;
}

function isIpAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':') || host.startsWith('[');
}

function headerText(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(', ') : value ?? '';
}
