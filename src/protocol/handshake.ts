// The opening handshake of RFC 6455 §4 as pure functions: the server checks a request and builds
// its answer (§4.2), the client builds its request and checks the answer (§4.1). No I/O here.

import { createHash } from 'node:crypto';
import { PeerError, SyntaxError } from './errors.js';
import { isToken, parseExtensionHeader, parseTokenList, type ExtensionOffer } from './header-values.js';

/** The GUID every server appends to the client's key (RFC 6455 §1.3). */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The shape of node's IncomingMessage that matters here: header names are lowercased. */
export interface UpgradeRequest {
  method: string | undefined;
  httpVersion: string;
  headers: Record<string, string | string[] | undefined>;
}

export type RequestValidation =
  | { ok: true; key: string; protocols: string[]; extensions: ExtensionOffer[] }
  | { ok: false; status: number; reason: string; headers: Record<string, string> };

export type ResponseValidation = { ok: true; protocol: string; extensions: ExtensionOffer[] } | { ok: false; reason: string };

type HeaderRecord = Record<string, string | string[] | undefined>;

// The canonical base64 form of exactly 16 bytes: 21 free characters, a last character whose 4 low
// bits are zero, then the padding "==". Anything else does not decode to 16 bytes (RFC 6455 §4.2.1).
const CLIENT_KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;
const KEY_BYTES = 16;
// field-value characters we write: visible ASCII, SP and HTAB (RFC 9110 §5.5, without obs-text, so
// the head can be written as UTF-8 along with the body without changing a byte).
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;

const SERVER_OWNED_HEADERS = new Set(['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions']);
const REJECTION_OWNED_HEADERS = new Set(['connection', 'content-type', 'content-length']);
const CLIENT_OWNED_HEADERS = new Set([
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

// RFC 9110 §15 reason phrases for the statuses a handshake rejection plausibly uses.
const STATUS_TEXT: Readonly<Record<number, string>> = {
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other',
  307: 'Temporary Redirect', 308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized',
  403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 413: 'Content Too Large', 414: 'URI Too Long',
  426: 'Upgrade Required', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** SHA-1 of a latin1 string, in base64. The default uses createHash; a driver may inject a faster one-shot hash. */
export type Sha1Base64 = (input: string) => string;

function sha1Base64WithCreateHash(input: string): string {
  return createHash('sha1').update(input, 'latin1').digest('base64');
}

/** base64(SHA-1(key + GUID)): the Sec-WebSocket-Accept value that proves the server read the key (RFC 6455 §4.2.2). */
export function computeAcceptKey(key: string, sha1Base64: Sha1Base64 = sha1Base64WithCreateHash): string {
  return sha1Base64(key + WEBSOCKET_GUID);
}

/** A fresh Sec-WebSocket-Key: 16 random bytes, base64 (RFC 6455 §4.1). The randomness is injected. */
export function generateClientKey(randomBytes: (length: number) => Uint8Array): string {
  const bytes = randomBytes(KEY_BYTES);
  if (bytes.length !== KEY_BYTES) throw new RangeError(`randomBytes(${KEY_BYTES}) returned ${bytes.length} bytes`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Does a comma-list header hold `wanted` (lowercase)? The usual single-token value is checked without splitting. */
function containsToken(values: string | string[] | undefined, wanted: string): boolean {
  if (typeof values === 'string' && values.length === wanted.length && values.toLowerCase() === wanted) return true;
  return parseTokenList(values).some((element) => element.toLowerCase() === wanted);
}

const HTTP_VERSION = /^(\d+)\.(\d+)$/;

function isHttp11OrLater(version: string): boolean {
  if (version === '1.1') return true;
  const match = HTTP_VERSION.exec(version);
  if (match === null) return false;
  const major = Number(match[1]);
  return major > 1 || (major === 1 && Number(match[2]) >= 1);
}

/** The offered subprotocols, or null when one is not a token or appears twice. */
function offeredProtocols(values: string | string[] | undefined): string[] | null {
  if (values === undefined) return [];
  const protocols = parseTokenList(values);
  if (!protocols.every(isToken)) return null;
  return new Set(protocols).size === protocols.length ? protocols : null;
}

function reject(status: number, reason: string, headers: Record<string, string> = {}): RequestValidation {
  return { ok: false, status, reason, headers };
}

/** Server side: checks an upgrade request against RFC 6455 §4.2.1 and says what to answer. */
export function validateClientRequest(request: UpgradeRequest): RequestValidation {
  const { headers } = request;
  if (request.method !== 'GET') return reject(405, 'A WebSocket handshake must use GET', { Allow: 'GET' });
  if (!isHttp11OrLater(request.httpVersion)) return reject(400, 'A WebSocket handshake requires HTTP/1.1 or later');
  if (headers.host === undefined) return reject(400, 'Missing Host header');
  if (!containsToken(headers.upgrade, 'websocket')) return reject(400, 'The Upgrade header must include "websocket"');
  if (!containsToken(headers.connection, 'upgrade')) return reject(400, 'The Connection header must include "Upgrade"');
  // Checked before the key: a client speaking another version learns which one we speak and can
  // retry (RFC 6455 §4.2.2 step 4, §4.4), even if its key follows other rules.
  if (headers['sec-websocket-version'] !== '13') {
    return reject(426, 'Unsupported WebSocket version: only 13 is supported', { 'Sec-WebSocket-Version': '13' });
  }
  const key = headers['sec-websocket-key'];
  if (typeof key !== 'string' || !CLIENT_KEY.test(key)) return reject(400, 'Missing or invalid Sec-WebSocket-Key header');
  const protocols = offeredProtocols(headers['sec-websocket-protocol']);
  if (protocols === null) return reject(400, 'Invalid Sec-WebSocket-Protocol header');
  const offeredExtensions = headers['sec-websocket-extensions'];
  if (offeredExtensions === undefined) return { ok: true, key, protocols, extensions: [] };
  let extensions: ExtensionOffer[];
  try {
    extensions = parseExtensionHeader(offeredExtensions);
  } catch (error) {
    if (!(error instanceof PeerError)) throw error;
    return reject(400, 'Invalid Sec-WebSocket-Extensions header');
  }
  return { ok: true, key, protocols, extensions };
}

function assertField(name: string, value: string): void {
  if (!isToken(name)) throw new TypeError(`Invalid header name "${name}"`);
  if (!FIELD_VALUE.test(value)) throw new TypeError(`Invalid value for header "${name}" (CR, LF or a non-ASCII character)`);
}

/** Appends `name: value` lines; a header the handshake itself sets cannot be given twice. */
function appendHeaders(lines: string[], headers: Record<string, string | string[]>, owned: ReadonlySet<string>): void {
  for (const [name, value] of Object.entries(headers)) {
    if (owned.has(name.toLowerCase())) throw new TypeError(`Header "${name}" is set by the handshake and cannot be overridden`);
    for (const item of typeof value === 'string' ? [value] : value) {
      assertField(name, item);
      lines.push(`${name}: ${item}`);
    }
  }
}

const ACCEPT_HEAD = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ';

/** The server's 101 answer (RFC 6455 §4.2.2 step 5), head only, ending with the empty line. */
export function buildServerResponse(options: {
  key: string;
  protocol?: string;
  extensions?: string;
  headers?: Record<string, string | string[]>;
  /** How to hash the key (see Sha1Base64). */
  sha1Base64?: Sha1Base64;
}): string {
  const accept = computeAcceptKey(options.key, options.sha1Base64);
  // The common answer (no subprotocol, extension or extra header) as one concatenation.
  if (!options.protocol && !options.extensions && options.headers === undefined) return `${ACCEPT_HEAD}${accept}\r\n\r\n`;
  const lines = [ACCEPT_HEAD + accept];
  if (options.protocol !== undefined && options.protocol !== '') {
    if (!isToken(options.protocol)) throw new TypeError(`Subprotocol "${options.protocol}" is not a token`);
    lines.push(`Sec-WebSocket-Protocol: ${options.protocol}`);
  }
  if (options.extensions !== undefined && options.extensions !== '') {
    assertField('Sec-WebSocket-Extensions', options.extensions);
    lines.push(`Sec-WebSocket-Extensions: ${options.extensions}`);
  }
  appendHeaders(lines, options.headers ?? {}, SERVER_OWNED_HEADERS);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * A complete refusal: status line, headers and `reason` as a plain-text body; the connection
 * closes after it. An unknown status gets an empty reason phrase, which RFC 9112 §4 allows.
 */
export function buildRejectionResponse(status: number, reason: string, headers: Record<string, string> = {}): string {
  if (!Number.isInteger(status) || status < 300 || status > 599) {
    throw new RangeError(`A handshake rejection needs a 3xx, 4xx or 5xx status, got ${String(status)}`);
  }
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(reason, 'utf8')}`,
  ];
  appendHeaders(lines, headers, REJECTION_OWNED_HEADERS);
  return `${lines.join('\r\n')}\r\n\r\n${reason}`;
}

/**
 * The client constructor's rule (WHATWG WebSockets, `new WebSocket(url, protocols)` step 5): every
 * subprotocol is a token and none appears twice (compared case-sensitively). Else a SyntaxError.
 */
export function validateSubprotocols(protocols: string | readonly string[] | undefined): string[] {
  const list = protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : [...protocols];
  const seen = new Set<string>();
  for (const protocol of list) {
    if (typeof protocol !== 'string' || !isToken(protocol)) throw new SyntaxError(`Invalid subprotocol "${String(protocol)}"`);
    if (seen.has(protocol)) throw new SyntaxError(`Duplicate subprotocol "${protocol}"`);
    seen.add(protocol);
  }
  return list;
}

/** The client's handshake headers (RFC 6455 §4.1); user headers may not replace the ones the handshake owns. */
export function buildClientRequestHeaders(options: {
  key: string;
  protocols: readonly string[];
  extensions?: string;
  headers?: Record<string, string>;
}): Record<string, string> {
  const headers: Record<string, string> = {
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Key': options.key,
    'Sec-WebSocket-Version': '13',
  };
  if (options.protocols.length > 0) headers['Sec-WebSocket-Protocol'] = options.protocols.join(', ');
  if (options.extensions !== undefined && options.extensions !== '') {
    assertField('Sec-WebSocket-Extensions', options.extensions);
    headers['Sec-WebSocket-Extensions'] = options.extensions;
  }
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (CLIENT_OWNED_HEADERS.has(name.toLowerCase())) throw new TypeError(`Header "${name}" is set by the handshake and cannot be overridden`);
    assertField(name, value);
    headers[name] = value;
  }
  return headers;
}

/** The subprotocol the server selected: "" when it chose none, null when its answer is not allowed. */
function selectedProtocol(value: string | string[] | undefined, offered: readonly string[]): string | null {
  if (value === undefined) return '';
  return typeof value === 'string' && offered.includes(value) ? value : null;
}

/** Client side: the checks of RFC 6455 §4.1 on the server's answer; any failure fails the connection. */
export function validateServerResponse(
  response: { statusCode: number | undefined; headers: HeaderRecord },
  expected: { key: string; protocols: readonly string[] },
): ResponseValidation {
  const { headers } = response;
  if (response.statusCode !== 101) return { ok: false, reason: `Unexpected response status ${response.statusCode ?? 'none'} (expected 101)` };
  if (!containsToken(headers.upgrade, 'websocket')) return { ok: false, reason: 'The Upgrade header is not "websocket"' };
  if (!containsToken(headers.connection, 'upgrade')) return { ok: false, reason: 'The Connection header does not include "Upgrade"' };
  if (headers['sec-websocket-accept'] !== computeAcceptKey(expected.key)) {
    return { ok: false, reason: 'Missing or wrong Sec-WebSocket-Accept header' };
  }
  const protocol = selectedProtocol(headers['sec-websocket-protocol'], expected.protocols);
  if (protocol === null) return { ok: false, reason: 'The server selected a subprotocol that was not offered' };
  try {
    return { ok: true, protocol, extensions: parseExtensionHeader(headers['sec-websocket-extensions']) };
  } catch (error) {
    if (!(error instanceof PeerError)) throw error;
    return { ok: false, reason: 'Invalid Sec-WebSocket-Extensions header' };
  }
}
