// Where a client may put its credentials at the handshake, and the one function that finds them:
// an Authorization header, a cookie, a query parameter or an offered subprotocol (browsers cannot
// set headers on a WebSocket, and query strings end up in logs, so each place has its use).

import type { IncomingMessage } from 'node:http';

/** Cookie holding the token. */
export const AUTH_COOKIE = 'tidewire_token';
/** Query parameter holding the token. */
export const AUTH_QUERY_PARAMETER = 'token';
/** An offered subprotocol `tidewire.auth.<base64url(token)>` carries the token; it is never chosen. */
export const AUTH_SUBPROTOCOL_PREFIX = 'tidewire.auth.';

/** The parts of a request extractToken reads. */
export type TokenSource = Pick<IncomingMessage, 'headers' | 'url'>;

/**
 * The token of a handshake request, looked up in this order: `Authorization: Bearer <token>`,
 * the `tidewire_token` cookie, the `token` query parameter, an offered subprotocol
 * `tidewire.auth.<base64url>`. Undefined when none is present (or empty).
 */
export function extractToken(req: TokenSource): string | undefined {
  return nonEmpty(bearerToken(req)) ?? nonEmpty(cookieToken(req)) ?? nonEmpty(queryToken(req)) ?? nonEmpty(subprotocolToken(req));
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function bearerToken(req: TokenSource): string | undefined {
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

function cookieToken(req: TokenSource): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const pair of header.split(';')) {
    const equals = pair.indexOf('=');
    if (equals < 0 || pair.slice(0, equals).trim() !== AUTH_COOKIE) continue;
    const raw = pair.slice(equals + 1).trim().replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw; // not percent-encoded after all
    }
  }
  return undefined;
}

function queryToken(req: TokenSource): string | undefined {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  if (query < 0) return undefined;
  return new URLSearchParams(url.slice(query + 1)).get(AUTH_QUERY_PARAMETER) ?? undefined;
}

function subprotocolToken(req: TokenSource): string | undefined {
  const header = req.headers['sec-websocket-protocol'];
  const offered = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((name) => name.trim());
  const carrier = offered.find((name) => name.startsWith(AUTH_SUBPROTOCOL_PREFIX));
  if (carrier === undefined) return undefined;
  const encoded = carrier.slice(AUTH_SUBPROTOCOL_PREFIX.length);
  if (!/^[A-Za-z0-9_-]*$/.test(encoded)) return undefined; // RFC 4648 §5 alphabet only
  return Buffer.from(encoded, 'base64url').toString('utf8');
}
