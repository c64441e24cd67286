// Negotiation of permessage-deflate (RFC 7692 §5, §7.1): the client's offer, the server's choice
// among offers and the client's check of the answer. The zlib work lives in the node layer.

import { formatExtensions, type ExtensionOffer } from './header-values.js';

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** User configuration, all optional. On each side it says what this endpoint wants or allows. */
export interface DeflateOptions {
  /** Server: always reset the server's context (true), honour a client's request (undefined), or decline offers that request it (false). Client: ask for it. */
  serverNoContextTakeover?: boolean;
  /** Server: ask the client to reset its context (true), echo the client's hint (undefined) or not (false). Client: reset our context and say so. */
  clientNoContextTakeover?: boolean;
  /** 8..15: the largest window this side lets the server use (server) or asks the server to use (client). */
  serverMaxWindowBits?: number;
  /** 8..15: the largest window this side asks the client to use (server) or will use (client). */
  clientMaxWindowBits?: number;
  /** Messages smaller than this many bytes are sent uncompressed (the driver applies it). */
  threshold?: number;
  /** zlib tuning, carried through to the driver. */
  level?: number;
  memLevel?: number;
}

/** What was agreed for one connection; window bits are 15 where not negotiated. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

export type DeflateRole = 'server' | 'client';

const MIN_WINDOW_BITS = 8;
const MAX_WINDOW_BITS = 15;
// zlib has no raw deflate compressor with a 256-byte window: node raises windowBits 8 to 9. That is
// still safe to promise as 8: a 9-bit zlib stream never reaches back more than 250 bytes (node's
// zlib docs; measured here too), so an inflater with an 8-bit window decodes it.
const MIN_COMPRESSOR_WINDOW_BITS = MIN_WINDOW_BITS;
// "a decimal integer value without leading zeroes between 8 to 15 inclusive" (RFC 7692 §7.1.2)
const WINDOW_BITS_VALUE = /^(?:[89]|1[0-5])$/;

/** The four parameters of one offer or response, each present at most once with a valid value. */
interface PmdParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | true | undefined; // true: present without a value
  clientMaxWindowBits: number | true | undefined;
}

type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

function checkWindowBits(name: string, value: number | undefined, min: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < MIN_WINDOW_BITS || value > MAX_WINDOW_BITS) {
    throw new RangeError(`permessage-deflate ${name} must be an integer from 8 to 15, got ${String(value)}`);
  }
  if (value < min) throw new RangeError(`permessage-deflate ${name}=${value} cannot be honoured: zlib cannot compress with a 256-byte window`);
}

function checkInteger(name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`permessage-deflate ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}

/** Rejects a configuration this side could not honour (RangeError). Call it when the endpoint is configured. */
export function validateDeflateOptions(options: DeflateOptions, role: DeflateRole): void {
  for (const name of ['serverNoContextTakeover', 'clientNoContextTakeover'] as const) {
    const value: unknown = options[name];
    if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`permessage-deflate ${name} must be a boolean`);
  }
  checkWindowBits('serverMaxWindowBits', options.serverMaxWindowBits, role === 'server' ? MIN_COMPRESSOR_WINDOW_BITS : MIN_WINDOW_BITS);
  checkWindowBits('clientMaxWindowBits', options.clientMaxWindowBits, role === 'client' ? MIN_COMPRESSOR_WINDOW_BITS : MIN_WINDOW_BITS);
  checkInteger('threshold', options.threshold, 0, Number.MAX_SAFE_INTEGER);
  checkInteger('level', options.level, -1, 9);
  checkInteger('memLevel', options.memLevel, 1, 9);
}

function readParam(params: PmdParams, name: string, value: string | true): string | null {
  switch (name) {
    case 'server_no_context_takeover':
    case 'client_no_context_takeover':
      // RFC 7692 §7.1.1.1, §7.1.1.2: these parameters have no value.
      if (value !== true) return `${name} must not have a value`;
      params[name === 'server_no_context_takeover' ? 'serverNoContextTakeover' : 'clientNoContextTakeover'] = true;
      return null;
    case 'server_max_window_bits':
    case 'client_max_window_bits':
      if (value !== true && !WINDOW_BITS_VALUE.test(value)) return `${name} has an invalid value "${value}"`;
      params[name === 'server_max_window_bits' ? 'serverMaxWindowBits' : 'clientMaxWindowBits'] = value === true ? true : Number(value);
      return null;
    default:
      return `unknown parameter ${name}`;
  }
}

/** RFC 7692 §7.1: no unknown parameter, none twice, every value valid. */
function readParams(list: ExtensionOffer['params']): Checked<PmdParams> {
  const params: PmdParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: undefined, clientMaxWindowBits: undefined };
  const seen = new Set<string>();
  for (const [name, value] of list) {
    if (seen.has(name)) return { ok: false, reason: `duplicate parameter ${name}` };
    seen.add(name);
    const problem = readParam(params, name, value);
    if (problem !== null) return { ok: false, reason: problem };
  }
  return { ok: true, value: params };
}

function windowBitsValue(bits: number | true): string | true {
  return bits === true ? true : String(bits);
}

function toOffer(params: PmdParams): ExtensionOffer {
  const list: [string, string | true][] = [];
  if (params.serverNoContextTakeover) list.push(['server_no_context_takeover', true]);
  if (params.clientNoContextTakeover) list.push(['client_no_context_takeover', true]);
  if (params.serverMaxWindowBits !== undefined) list.push(['server_max_window_bits', windowBitsValue(params.serverMaxWindowBits)]);
  if (params.clientMaxWindowBits !== undefined) list.push(['client_max_window_bits', windowBitsValue(params.clientMaxWindowBits)]);
  return { name: PERMESSAGE_DEFLATE, params: list };
}

/** The server's answer to one offer, or null to decline it. */
function acceptOffer(offer: PmdParams, config: DeflateOptions): { params: DeflateParams; response: string } | null {
  // RFC 7692 §7.1.2.1: server_max_window_bits in an offer always has a value.
  if (offer.serverMaxWindowBits === true) return null;
  // §7.1.1.1: the server either includes server_no_context_takeover or declines the offer.
  if (offer.serverNoContextTakeover && config.serverNoContextTakeover === false) return null;
  // §7.1.2.1: the response's server_max_window_bits is at most the offered value.
  const serverMaxWindowBits = Math.min(offer.serverMaxWindowBits ?? MAX_WINDOW_BITS, config.serverMaxWindowBits ?? MAX_WINDOW_BITS);
  if (serverMaxWindowBits < MIN_COMPRESSOR_WINDOW_BITS) return null;
  const offeredClientBits = offer.clientMaxWindowBits === true ? MAX_WINDOW_BITS : offer.clientMaxWindowBits;
  const clientMaxWindowBits = Math.min(offeredClientBits ?? MAX_WINDOW_BITS, config.clientMaxWindowBits ?? MAX_WINDOW_BITS);
  const response: PmdParams = {
    serverNoContextTakeover: offer.serverNoContextTakeover || config.serverNoContextTakeover === true,
    clientNoContextTakeover: config.clientNoContextTakeover ?? offer.clientNoContextTakeover,
    serverMaxWindowBits: offer.serverMaxWindowBits !== undefined || config.serverMaxWindowBits !== undefined ? serverMaxWindowBits : undefined,
    // §7.1.2.2: client_max_window_bits only if the client offered it; worth sending only when it says something.
    clientMaxWindowBits:
      offer.clientMaxWindowBits !== undefined && (offer.clientMaxWindowBits !== true || config.clientMaxWindowBits !== undefined)
        ? clientMaxWindowBits
        : undefined,
  };
  return {
    params: {
      serverNoContextTakeover: response.serverNoContextTakeover,
      clientNoContextTakeover: response.clientNoContextTakeover,
      serverMaxWindowBits,
      clientMaxWindowBits: response.clientMaxWindowBits === undefined ? MAX_WINDOW_BITS : clientMaxWindowBits,
    },
    response: formatExtensions([toOffer(response)]),
  };
}

/**
 * Server side: accepts the first permessage-deflate offer it can honour (RFC 7692 §5.1) and skips
 * the others: invalid ones (§7.1 says decline) and ones asking for a window zlib cannot produce.
 * Returns the agreed parameters and the Sec-WebSocket-Extensions value to send, or null.
 */
export function negotiateServer(offers: readonly ExtensionOffer[], config: DeflateOptions): { params: DeflateParams; response: string } | null {
  validateDeflateOptions(config, 'server');
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const parsed = readParams(offer.params);
    if (!parsed.ok) continue;
    const accepted = acceptOffer(parsed.value, config);
    if (accepted !== null) return accepted;
  }
  return null;
}

function clientOffer(config: DeflateOptions): PmdParams {
  validateDeflateOptions(config, 'client');
  return {
    serverNoContextTakeover: config.serverNoContextTakeover === true,
    clientNoContextTakeover: config.clientNoContextTakeover === true,
    serverMaxWindowBits: config.serverMaxWindowBits,
    // Always offered, as browsers do, so the server may ask us for a smaller window (§7.1.2.2).
    clientMaxWindowBits: config.clientMaxWindowBits ?? true,
  };
}

/** The client's Sec-WebSocket-Extensions offer, e.g. "permessage-deflate; client_max_window_bits". */
export function buildClientOffer(config: DeflateOptions): string {
  return formatExtensions([toOffer(clientOffer(config))]);
}

/** Checks a permessage-deflate response against the offer we sent (RFC 7692 §7.1.1, §7.1.2). */
function checkResponse(response: PmdParams, offered: PmdParams): string | null {
  if (response.serverMaxWindowBits === true || response.clientMaxWindowBits === true) return 'a window bits parameter without a value';
  if (offered.serverNoContextTakeover && !response.serverNoContextTakeover) return 'server_no_context_takeover was requested but not agreed';
  if (typeof offered.serverMaxWindowBits === 'number') {
    if (response.serverMaxWindowBits === undefined) return 'server_max_window_bits was requested but not agreed';
    if (response.serverMaxWindowBits > offered.serverMaxWindowBits) return 'server_max_window_bits is larger than requested';
  }
  if (response.clientMaxWindowBits !== undefined) {
    if (offered.clientMaxWindowBits === undefined) return 'client_max_window_bits was not offered';
    if (response.clientMaxWindowBits < MIN_COMPRESSOR_WINDOW_BITS) return `client_max_window_bits=${response.clientMaxWindowBits} cannot be honoured by zlib`;
  }
  return null;
}

/**
 * Client side: the server may only answer with what we offered (RFC 6455 §9.1), permessage-deflate
 * at most once, with parameters that fit our offer. ok:false means the client fails the connection.
 */
export function acceptServerResponse(
  extensions: readonly ExtensionOffer[],
  config: DeflateOptions,
): { ok: true; params: DeflateParams | null } | { ok: false; reason: string } {
  const offered = clientOffer(config);
  let accepted: ExtensionOffer | undefined;
  for (const extension of extensions) {
    if (extension.name !== PERMESSAGE_DEFLATE) return { ok: false, reason: `The server accepted extension "${extension.name}", which was not offered` };
    if (accepted !== undefined) return { ok: false, reason: 'The server accepted permessage-deflate twice' };
    accepted = extension;
  }
  if (accepted === undefined) return { ok: true, params: null };
  const parsed = readParams(accepted.params);
  if (!parsed.ok) return { ok: false, reason: `Invalid permessage-deflate response: ${parsed.reason}` };
  const response = parsed.value;
  const problem = checkResponse(response, offered);
  if (problem !== null) return { ok: false, reason: `Invalid permessage-deflate response: ${problem}` };
  return {
    ok: true,
    params: {
      serverNoContextTakeover: response.serverNoContextTakeover,
      clientNoContextTakeover: response.clientNoContextTakeover || offered.clientNoContextTakeover,
      serverMaxWindowBits: typeof response.serverMaxWindowBits === 'number' ? response.serverMaxWindowBits : MAX_WINDOW_BITS,
      clientMaxWindowBits: Math.min(
        typeof response.clientMaxWindowBits === 'number' ? response.clientMaxWindowBits : MAX_WINDOW_BITS,
        config.clientMaxWindowBits ?? MAX_WINDOW_BITS,
      ),
    },
  };
}
