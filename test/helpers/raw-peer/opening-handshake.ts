// The opening handshake checks (RFC 6455 §4.1, §4.2.2) the raw peer applies to the endpoint under
// test: the accept key, the client's request and the server's 101 response.

import { createHash } from 'node:crypto';
import type { HttpRequest, HttpResponse } from './http-head.js';

/** RFC 6455 §1.3. */
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptKeyFor(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

/** Checks a client's opening handshake request (RFC 6455 §4.1); returns the problems found. */
export function clientRequestProblems(request: HttpRequest): string[] {
  const problems: string[] = [];
  if (request.method !== 'GET') problems.push(`method ${request.method}`);
  if (request.httpVersion !== 'HTTP/1.1') problems.push(`version ${request.httpVersion}`);
  if (request.get('host') === undefined) problems.push('no Host');
  if (request.get('upgrade')?.toLowerCase() !== 'websocket') problems.push(`Upgrade: ${request.get('upgrade')}`);
  if (!/(^|,)\s*upgrade\s*(,|$)/i.test(request.get('connection') ?? '')) problems.push(`Connection: ${request.get('connection')}`);
  const key = request.get('sec-websocket-key') ?? '';
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key) || Buffer.from(key, 'base64').length !== 16) problems.push(`Sec-WebSocket-Key: ${key}`);
  if (request.get('sec-websocket-version') !== '13') problems.push(`Sec-WebSocket-Version: ${request.get('sec-websocket-version')}`);
  return problems;
}

/** Checks a server's 101 response to a request sent with `key` (RFC 6455 §4.2.2); returns the problems found. */
export function serverResponseProblems(res: HttpResponse, key: string): string[] {
  const problems: string[] = [];
  if (res.status !== 101) problems.push(`status ${res.status} ${res.reason} (${res.body.toString().slice(0, 200)})`);
  if (res.get('upgrade')?.toLowerCase() !== 'websocket') problems.push(`Upgrade: ${res.get('upgrade')}`);
  if (!/(^|,)\s*upgrade\s*(,|$)/i.test(res.get('connection') ?? '')) problems.push(`Connection: ${res.get('connection')}`);
  if (res.get('sec-websocket-accept') !== acceptKeyFor(key)) problems.push(`Sec-WebSocket-Accept: ${res.get('sec-websocket-accept')}`);
  return problems;
}
