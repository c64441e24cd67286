// Parsing and formatting of the HTTP header values the opening handshake reads: tokens, comma
// lists and the Sec-WebSocket-Extensions grammar (RFC 7230 §3.2.6, §7; RFC 6455 §4.3, §9.1).

import { PeerError } from './errors.js';

/** One element of a Sec-WebSocket-Extensions header: a name and its parameters, in order (duplicates kept so callers can reject them). */
export interface ExtensionOffer {
  readonly name: string;
  readonly params: ReadonlyArray<readonly [name: string, value: string | true]>;
}

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA (RFC 7230 §3.2.6)
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TOKEN_AT = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
// qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text; quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
const QDTEXT = /[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]/;
const QUOTED_PAIR_CHAR = /[\t \x21-\x7e\x80-\xff]/;
const OWS_EDGES = /^[ \t]+|[ \t]+$/g;

/** Is `value` a non-empty RFC 7230 token (1*tchar)? */
export function isToken(value: string): boolean {
  return TOKEN.test(value);
}

function headerLines(values: string | string[] | undefined): readonly string[] {
  if (values === undefined) return [];
  return typeof values === 'string' ? [values] : values;
}

/**
 * Splits comma-separated list headers (`#element`, RFC 7230 §7) that may arrive on several lines:
 * trims OWS and drops empty elements, which a recipient MUST accept. Elements are not validated.
 */
export function parseTokenList(values: string | string[] | undefined): string[] {
  const elements: string[] = [];
  for (const line of headerLines(values)) {
    for (const element of line.split(',')) {
      const trimmed = element.replace(OWS_EDGES, '');
      if (trimmed !== '') elements.push(trimmed);
    }
  }
  return elements;
}

/** A position in one header line; the parser below moves it forward. */
interface Cursor {
  readonly text: string;
  pos: number;
}

function fail(cursor: Cursor, problem: string): never {
  throw new PeerError(`Invalid Sec-WebSocket-Extensions header: ${problem} at offset ${cursor.pos}`, 1002);
}

function skipOws(cursor: Cursor): void {
  while (cursor.text[cursor.pos] === ' ' || cursor.text[cursor.pos] === '\t') cursor.pos += 1;
}

function readToken(cursor: Cursor, what: string): string {
  TOKEN_AT.lastIndex = cursor.pos;
  const match = TOKEN_AT.exec(cursor.text);
  if (match === null) fail(cursor, `expected ${what}`);
  cursor.pos += match[0].length;
  return match[0];
}

function readQuotedString(cursor: Cursor): string {
  cursor.pos += 1; // the opening DQUOTE
  let value = '';
  for (;;) {
    const char = cursor.text[cursor.pos];
    if (char === undefined) fail(cursor, 'unterminated quoted-string');
    cursor.pos += 1;
    if (char === '"') return value;
    if (char === '\\') {
      const escaped = cursor.text[cursor.pos];
      if (escaped === undefined || !QUOTED_PAIR_CHAR.test(escaped)) fail(cursor, 'invalid quoted-pair');
      value += escaped;
      cursor.pos += 1;
    } else if (QDTEXT.test(char)) {
      value += char;
    } else {
      cursor.pos -= 1;
      fail(cursor, 'invalid character in quoted-string');
    }
  }
}

function readParam(cursor: Cursor): readonly [string, string | true] {
  const name = readToken(cursor, 'a parameter name').toLowerCase();
  skipOws(cursor);
  if (cursor.text[cursor.pos] !== '=') return [name, true];
  cursor.pos += 1;
  skipOws(cursor);
  if (cursor.text[cursor.pos] !== '"') return [name, readToken(cursor, 'a parameter value')];
  const start = cursor.pos;
  const value = readQuotedString(cursor);
  // RFC 6455 §9.1: a quoted-string value MUST conform to the token ABNF once unescaped.
  if (!isToken(value)) fail({ text: cursor.text, pos: start }, 'quoted value is not a token');
  return [name, value];
}

function readExtension(cursor: Cursor): ExtensionOffer {
  const name = readToken(cursor, 'an extension name').toLowerCase();
  const params: (readonly [string, string | true])[] = [];
  for (;;) {
    skipOws(cursor);
    if (cursor.text[cursor.pos] !== ';') return { name, params };
    cursor.pos += 1;
    skipOws(cursor);
    params.push(readParam(cursor));
  }
}

function parseLine(text: string, into: ExtensionOffer[]): void {
  const cursor: Cursor = { text, pos: 0 };
  for (;;) {
    skipOws(cursor);
    if (cursor.pos === text.length) return;
    if (text[cursor.pos] === ',') {
      cursor.pos += 1; // an empty list element (RFC 7230 §7)
      continue;
    }
    into.push(readExtension(cursor));
    skipOws(cursor);
    if (cursor.pos === text.length) return;
    if (text[cursor.pos] !== ',') fail(cursor, 'expected "," or ";"');
    cursor.pos += 1;
  }
}

/**
 * Parses Sec-WebSocket-Extensions (RFC 6455 §9.1), possibly split over several header lines.
 * Extension and parameter names are lowercased; values keep their case and lose their quotes.
 * Throws PeerError(…, 1002) on a syntax error: the server answers it with HTTP 400.
 */
export function parseExtensionHeader(values: string | string[] | undefined): ExtensionOffer[] {
  const offers: ExtensionOffer[] = [];
  for (const line of headerLines(values)) parseLine(line, offers);
  return offers;
}

/** Formats extensions as a Sec-WebSocket-Extensions value; a name or value that is not a token is local misuse (TypeError). */
export function formatExtensions(offers: readonly ExtensionOffer[]): string {
  return offers
    .map((offer) => {
      if (!isToken(offer.name)) throw new TypeError(`Extension name "${offer.name}" is not a token`);
      const parts = [offer.name];
      for (const [name, value] of offer.params) {
        if (!isToken(name)) throw new TypeError(`Extension parameter name "${name}" is not a token`);
        if (value === true) {
          parts.push(name);
        } else if (isToken(value)) {
          parts.push(`${name}=${value}`);
        } else {
          throw new TypeError(`Extension parameter "${name}" has a value that is not a token: "${value}"`);
        }
      }
      return parts.join('; ');
    })
    .join(', ');
}
