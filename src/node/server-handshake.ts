// The server's side of the opening handshake (RFC 6455 §4.2): check the request, apply the
// application's policy (Origin allowlist, verifyClient, subprotocol choice), negotiate
// permessage-deflate, then answer 101 or a clear HTTP error.

import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { buildRejectionResponse, buildServerResponse, validateClientRequest, type RequestValidation } from '../protocol/handshake.js';
import { negotiateServer, type DeflateOptions, type DeflateParams } from '../protocol/permessage-deflate.js';

export interface VerifyInfo {
  origin: string | undefined;
  secure: boolean;
  req: IncomingMessage;
}
export type VerifyResult = boolean | { status: number; message?: string; headers?: Record<string, string> };
export type VerifyClient = (info: VerifyInfo) => VerifyResult | Promise<VerifyResult>;
export type HandleProtocols = (protocols: Set<string>, req: IncomingMessage) => string | false;

export interface HandshakePolicy {
  allowedOrigins: ReadonlySet<string> | null;
  verifyClient: VerifyClient | undefined;
  handleProtocols: HandleProtocols | undefined;
  deflate: DeflateOptions | null;
  maxHeaderCount: number;
  /** Checked after the asynchronous verifyClient: a server closing meanwhile answers 503. */
  isShuttingDown: () => boolean;
}

export interface Accepted {
  protocol: string;
  extensions: string;
  deflate: DeflateParams | null;
}

/** Answers the handshake on `socket`; resolves with what was agreed, or null after a rejection was sent. */
export async function answerHandshake(req: IncomingMessage, socket: Duplex, policy: HandshakePolicy): Promise<Accepted | null> {
  const checked = checkRequest(req, socket, policy);
  if (checked === null) return null;
  if (policy.verifyClient !== undefined) {
    const verdict = await policy.verifyClient({ origin: headerValue(req.headers.origin), secure: isSecure(socket), req });
    if (socket.destroyed) return null;
    if (verdict === false) return reject(socket, 401, 'Unauthorized');
    if (typeof verdict === 'object') return reject(socket, verdict.status, verdict.message ?? 'Rejected', verdict.headers);
  }
  if (policy.isShuttingDown()) return reject(socket, 503, 'The server is shutting down');
  return accept(req, socket, policy, checked);
}

/**
 * The same within this tick, for a policy without verifyClient: no promise, no timer, nothing
 * kept once the 101 is written (the common case, and what handshakes/s measures).
 */
export function answerHandshakeNow(req: IncomingMessage, socket: Duplex, policy: HandshakePolicy): Accepted | null {
  if (policy.verifyClient !== undefined) throw new TypeError('answerHandshakeNow() cannot run an asynchronous verifyClient');
  const checked = checkRequest(req, socket, policy);
  return checked === null ? null : accept(req, socket, policy, checked);
}

type CheckedRequest = Extract<RequestValidation, { ok: true }>;

/** RFC 6455 §4.2.1 and the Origin allowlist; null once a rejection was sent. */
function checkRequest(req: IncomingMessage, socket: Duplex, policy: HandshakePolicy): CheckedRequest | null {
  // node's own maxHeadersCount drops extra lines silently; refuse them instead.
  if (req.rawHeaders.length / 2 > policy.maxHeaderCount) return reject(socket, 431, 'Too many header lines');
  const headers = req.headers as Record<string, string | string[] | undefined>;
  const checked = validateClientRequest({ method: req.method, httpVersion: req.httpVersion, headers });
  if (!checked.ok) return reject(socket, checked.status, checked.reason, checked.headers);
  if (policy.allowedOrigins !== null) {
    const origin = headerValue(headers.origin);
    if (origin !== undefined && !policy.allowedOrigins.has(origin)) return reject(socket, 403, `Origin ${origin} is not allowed`);
  }
  return checked;
}

/** Chooses the subprotocol, negotiates permessage-deflate and writes the 101. */
function accept(req: IncomingMessage, socket: Duplex, policy: HandshakePolicy, checked: CheckedRequest): Accepted | null {
  const protocol = chooseProtocol(req, policy, checked.protocols);
  const deflate = policy.deflate === null ? null : negotiateServer(checked.extensions, policy.deflate);
  if (socket.destroyed) return null;
  const extensions = deflate === null ? '' : deflate.response;
  socket.write(buildServerResponse({ key: checked.key, protocol, extensions, sha1Base64: oneShotSha1Base64 }));
  return { protocol, extensions, deflate: deflate === null ? null : deflate.params };
}

function chooseProtocol(req: IncomingMessage, policy: HandshakePolicy, offeredList: string[]): string {
  if (policy.handleProtocols === undefined) return offeredList[0] ?? '';
  const offered = new Set(offeredList);
  const chosen = policy.handleProtocols(offered, req);
  return typeof chosen === 'string' && offered.has(chosen) ? chosen : '';
}

/** Sends an HTTP error and closes the socket once it is written. */
export function reject(socket: Duplex, status: number, reason: string, headers: Record<string, string> = {}): null {
  socket.on('error', ignoreError); // a peer that resets the connection meanwhile is no error of ours
  if (socket.writable) socket.end(buildRejectionResponse(status, reason, headers), () => socket.destroy());
  else socket.destroy();
  return null;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isSecure(socket: Duplex): boolean {
  return (socket as Duplex & { encrypted?: boolean }).encrypted === true;
}

function ignoreError(): void {}

/**
 * Node >= 20.12's one-shot crypto.hash() skips the Hash object createHash builds (about half the
 * cost of the accept key). It hashes strings as UTF-8, which equals latin1 here: the key was checked
 * to be base64 and the GUID is ASCII. Older Node: undefined, and the protocol's createHash is used.
 */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string }).hash;
const oneShotSha1Base64 = oneShotHash === undefined ? undefined : (input: string): string => oneShotHash('sha1', input, 'base64');
