// The server's side of the opening handshake (RFC 6455 §4.2): check the request, apply the
// application's policy (Origin allowlist, verifyClient, subprotocol choice), negotiate
// permessage-deflate, then answer 101 or a clear HTTP error.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { buildRejectionResponse, buildServerResponse, validateClientRequest } from '../protocol/handshake.js';
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
  // node's own maxHeadersCount drops extra lines silently; refuse them instead.
  if (req.rawHeaders.length / 2 > policy.maxHeaderCount) return reject(socket, 431, 'Too many header lines');
  const checked = validateClientRequest({ method: req.method, httpVersion: req.httpVersion, headers: req.headers as Record<string, string | string[] | undefined> });
  if (!checked.ok) return reject(socket, checked.status, checked.reason, checked.headers);
  const origin = headerValue(req.headers.origin);
  if (policy.allowedOrigins !== null && origin !== undefined && !policy.allowedOrigins.has(origin)) {
    return reject(socket, 403, `Origin ${origin} is not allowed`);
  }
  if (policy.verifyClient !== undefined) {
    const verdict = await policy.verifyClient({ origin, secure: isSecure(socket), req });
    if (socket.destroyed) return null;
    if (verdict === false) return reject(socket, 401, 'Unauthorized');
    if (typeof verdict === 'object') return reject(socket, verdict.status, verdict.message ?? 'Rejected', verdict.headers);
  }
  if (policy.isShuttingDown()) return reject(socket, 503, 'The server is shutting down');
  const offered = new Set(checked.protocols);
  const chosen = policy.handleProtocols ? policy.handleProtocols(offered, req) : (checked.protocols[0] ?? false);
  const protocol = typeof chosen === 'string' && offered.has(chosen) ? chosen : '';
  const deflate = policy.deflate === null ? null : negotiateServer(checked.extensions, policy.deflate);
  if (socket.destroyed) return null;
  socket.write(
    buildServerResponse({
      key: checked.key,
      ...(protocol !== '' ? { protocol } : {}),
      ...(deflate !== null ? { extensions: deflate.response } : {}),
    }),
  );
  return { protocol, extensions: deflate?.response ?? '', deflate: deflate?.params ?? null };
}

/** Sends an HTTP error and closes the socket once it is written. */
export function reject(socket: Duplex, status: number, reason: string, headers: Record<string, string> = {}): null {
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
