import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseExtensionHeader } from '../../src/protocol/header-values.js';
import {
  PERMESSAGE_DEFLATE,
  acceptServerResponse,
  buildClientOffer,
  negotiateServer,
  validateDeflateOptions,
  type DeflateOptions,
  type DeflateParams,
} from '../../src/protocol/permessage-deflate.js';

const DEFAULT_PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function serverAnswer(offer: string, config: DeflateOptions = {}) {
  return negotiateServer(parseExtensionHeader(offer), config);
}

function clientCheck(response: string, config: DeflateOptions = {}) {
  return acceptServerResponse(parseExtensionHeader(response), config);
}

function assertDeclined(offer: string, config: DeflateOptions = {}): void {
  assert.equal(serverAnswer(offer, config), null, offer);
}

function assertClientFails(response: string, config: DeflateOptions = {}): void {
  const result = clientCheck(response, config);
  assert.equal(result.ok, false, response);
  assert.ok(!result.ok && result.reason.length > 0);
}

describe('negotiateServer', () => {
  it('server accepts the browser default offer with a bare response', () => {
    assert.equal(PERMESSAGE_DEFLATE, 'permessage-deflate');
    assert.deepEqual(serverAnswer('permessage-deflate; client_max_window_bits'), { params: DEFAULT_PARAMS, response: 'permessage-deflate' });
  });

  it('server accepts an offer without parameters', () => {
    assert.deepEqual(serverAnswer('permessage-deflate'), { params: DEFAULT_PARAMS, response: 'permessage-deflate' });
  });

  it('server returns null when nothing is offered or only other extensions are', () => {
    assert.equal(negotiateServer([], {}), null);
    assertDeclined('x-webkit-deflate-frame, x-foo; a=1');
  });

  it('server includes server_no_context_takeover when the client requests it', () => {
    const answer = serverAnswer('permessage-deflate; server_no_context_takeover');
    assert.equal(answer?.response, 'permessage-deflate; server_no_context_takeover');
    assert.equal(answer?.params.serverNoContextTakeover, true);
  });

  it('server includes server_no_context_takeover unasked when configured to', () => {
    assert.equal(serverAnswer('permessage-deflate', { serverNoContextTakeover: true })?.response, 'permessage-deflate; server_no_context_takeover');
  });

  it('server declines an offer requesting server_no_context_takeover when configured to keep its context', () => {
    assertDeclined('permessage-deflate; server_no_context_takeover', { serverNoContextTakeover: false });
  });

  it('server echoes the client_no_context_takeover hint unless configured not to', () => {
    const offer = 'permessage-deflate; client_no_context_takeover';
    assert.equal(serverAnswer(offer)?.response, 'permessage-deflate; client_no_context_takeover');
    assert.equal(serverAnswer(offer)?.params.clientNoContextTakeover, true);
    assert.equal(serverAnswer(offer, { clientNoContextTakeover: false })?.response, 'permessage-deflate');
    assert.equal(serverAnswer('permessage-deflate', { clientNoContextTakeover: true })?.response, 'permessage-deflate; client_no_context_takeover');
  });

  it('server answers server_max_window_bits with the smaller of the offer and its configuration', () => {
    assert.equal(serverAnswer('permessage-deflate; server_max_window_bits=10')?.response, 'permessage-deflate; server_max_window_bits=10');
    assert.equal(serverAnswer('permessage-deflate; server_max_window_bits=10', { serverMaxWindowBits: 12 })?.params.serverMaxWindowBits, 10);
    assert.equal(serverAnswer('permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 9 })?.response, 'permessage-deflate; server_max_window_bits=9');
  });

  it('server announces its configured server_max_window_bits when the client did not ask', () => {
    const answer = serverAnswer('permessage-deflate', { serverMaxWindowBits: 11 });
    assert.equal(answer?.response, 'permessage-deflate; server_max_window_bits=11');
    assert.equal(answer?.params.serverMaxWindowBits, 11);
  });

  it('server sends client_max_window_bits only if the client offered it (RFC 7692 §7.1.2.2)', () => {
    assert.equal(serverAnswer('permessage-deflate', { clientMaxWindowBits: 10 })?.response, 'permessage-deflate');
    assert.equal(serverAnswer('permessage-deflate', { clientMaxWindowBits: 10 })?.params.clientMaxWindowBits, 15);
    const answer = serverAnswer('permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 });
    assert.equal(answer?.response, 'permessage-deflate; client_max_window_bits=10');
    assert.equal(answer?.params.clientMaxWindowBits, 10);
  });

  it('server confirms a client_max_window_bits hint, lowered to its configuration', () => {
    assert.equal(serverAnswer('permessage-deflate; client_max_window_bits=12')?.response, 'permessage-deflate; client_max_window_bits=12');
    assert.equal(serverAnswer('permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 9 })?.params.clientMaxWindowBits, 9);
    assert.equal(serverAnswer('permessage-deflate; client_max_window_bits=8')?.params.clientMaxWindowBits, 8);
  });

  it('server may ask the client for an 8-bit window, which it can decompress', () => {
    const answer = serverAnswer('permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 8 });
    assert.equal(answer?.response, 'permessage-deflate; client_max_window_bits=8');
    assert.equal(answer?.params.clientMaxWindowBits, 8);
  });

  it('server lists response parameters in a fixed order', () => {
    const answer = serverAnswer('permessage-deflate; client_max_window_bits; server_no_context_takeover', { clientMaxWindowBits: 15 });
    assert.equal(answer?.response, 'permessage-deflate; server_no_context_takeover; client_max_window_bits=15');
  });

  it('server accepts an offer of server_max_window_bits=8 (a 9-bit zlib stream only reaches back 250 bytes)', () => {
    assert.equal(serverAnswer('permessage-deflate; server_max_window_bits=8')?.params.serverMaxWindowBits, 8);
  });

  it('server accepts the window-bits-8 offers of Autobahn cases 13.3, 13.5 and 13.7', () => {
    const autobahn133 = 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=8';
    const autobahn135 = 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=8';
    assert.equal(serverAnswer(autobahn133)?.params.serverMaxWindowBits, 8);
    assert.equal(serverAnswer(autobahn135)?.params.serverNoContextTakeover, true);
    assert.equal(serverAnswer(`${autobahn135}, permessage-deflate`)?.params.serverMaxWindowBits, 8);
  });

  it('server accepts a quoted window bits value', () => {
    assert.equal(serverAnswer('permessage-deflate; server_max_window_bits="10"')?.params.serverMaxWindowBits, 10);
  });

  it('server throws RangeError on a configuration it cannot honour', () => {
    for (const config of [{ serverMaxWindowBits: 7 }, { serverMaxWindowBits: 16 }, { clientMaxWindowBits: 7 }, { serverMaxWindowBits: 9.5 }]) {
      assert.throws(() => negotiateServer([], config), RangeError, JSON.stringify(config));
    }
  });
});

describe('buildClientOffer', () => {
  it('client offers what browsers offer by default', () => {
    assert.equal(buildClientOffer({}), 'permessage-deflate; client_max_window_bits');
  });

  it('client offers every configured parameter', () => {
    assert.equal(
      buildClientOffer({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 }),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    );
  });

  it('client may ask the server for an 8-bit window, which it can decompress', () => {
    assert.equal(buildClientOffer({ serverMaxWindowBits: 8 }), 'permessage-deflate; server_max_window_bits=8; client_max_window_bits');
  });

  it('client throws RangeError on client_max_window_bits out of range', () => {
    for (const clientMaxWindowBits of [7, 16, 12.5]) assert.throws(() => buildClientOffer({ clientMaxWindowBits }), RangeError);
  });
});

describe('acceptServerResponse', () => {
  it('client accepts a response without extensions as no compression', () => {
    assert.deepEqual(acceptServerResponse([], {}), { ok: true, params: null });
  });

  it('client accepts a bare permessage-deflate with default parameters', () => {
    assert.deepEqual(clientCheck('permessage-deflate'), { ok: true, params: DEFAULT_PARAMS });
  });

  it('client accepts every parameter the server may send', () => {
    const result = clientCheck('permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10');
    assert.deepEqual(result, {
      ok: true,
      params: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 10 },
    });
  });

  it('client keeps its own smaller window and its own no_context_takeover', () => {
    const result = clientCheck('permessage-deflate; client_max_window_bits=14', { clientMaxWindowBits: 11, clientNoContextTakeover: true });
    assert.deepEqual(result, { ok: true, params: { ...DEFAULT_PARAMS, clientNoContextTakeover: true, clientMaxWindowBits: 11 } });
  });

  it('client fails when the server answers with an extension that was not offered', () => {
    assertClientFails('x-foo');
    assertClientFails('permessage-deflate, x-foo');
  });

  it('client fails when the server accepts permessage-deflate twice', () => {
    assertClientFails('permessage-deflate, permessage-deflate');
  });

  it('client fails on unknown or duplicate parameters and invalid values', () => {
    for (const response of [
      'permessage-deflate; mux',
      'permessage-deflate; server_max_window_bits=10; server_max_window_bits=10',
      'permessage-deflate; server_no_context_takeover=1',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; client_max_window_bits=07',
    ]) {
      assertClientFails(response);
    }
  });

  it('client fails on window bits parameters without a value', () => {
    assertClientFails('permessage-deflate; server_max_window_bits');
    assertClientFails('permessage-deflate; client_max_window_bits');
  });

  it('client fails when server_max_window_bits is larger than requested or missing', () => {
    assertClientFails('permessage-deflate; server_max_window_bits=11', { serverMaxWindowBits: 10 });
    assertClientFails('permessage-deflate', { serverMaxWindowBits: 10 });
    assert.equal(clientCheck('permessage-deflate; server_max_window_bits=9', { serverMaxWindowBits: 10 }).ok, true);
  });

  it('client fails when it asked for server_no_context_takeover and the server left it out', () => {
    assertClientFails('permessage-deflate', { serverNoContextTakeover: true });
  });

  it('client accepts being told to compress with an 8-bit window', () => {
    assert.equal(clientCheck('permessage-deflate; client_max_window_bits=8').ok, true);
  });

  it('client throws RangeError on a configuration it cannot honour', () => {
    assert.throws(() => acceptServerResponse([], { clientMaxWindowBits: 7 }), RangeError);
  });
});

describe('validateDeflateOptions', () => {
  it('accepts an empty configuration on both sides', () => {
    validateDeflateOptions({}, 'server');
    validateDeflateOptions({}, 'client');
  });

  it('throws RangeError on a bad threshold, level or memLevel', () => {
    for (const options of [{ threshold: -1 }, { threshold: 1.5 }, { level: 10 }, { level: -2 }, { memLevel: 0 }, { memLevel: 10 }]) {
      assert.throws(() => validateDeflateOptions(options, 'server'), RangeError, JSON.stringify(options));
    }
  });

  it('throws TypeError on a no_context_takeover option that is not a boolean', () => {
    assert.throws(() => validateDeflateOptions({ serverNoContextTakeover: 'yes' as unknown as boolean }, 'client'), TypeError);
  });
});

describe('negotiation between our client and our server', () => {
  const flag = fc.option(fc.boolean(), { nil: undefined });
  const bits = (min: number) => fc.option(fc.integer({ min, max: 15 }), { nil: undefined });
  // Window bits from 8 wherever this side may configure 8. A server configured with
  // clientMaxWindowBits: 8 is left out: our client fails on it (see the zlib test above).
  const config = (serverMin: number, clientMin: number) =>
    fc.tuple(flag, flag, bits(serverMin), bits(clientMin)).map(
      ([serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits]): DeflateOptions => ({
        serverNoContextTakeover,
        clientNoContextTakeover,
        serverMaxWindowBits,
        clientMaxWindowBits,
      }),
    );

  it('server and client agree on every parameter that constrains the peer', () => {
    fc.assert(
      fc.property(config(8, 8), config(8, 8), (clientConfig, serverConfig) => {
        const answer = serverAnswer(buildClientOffer(clientConfig), serverConfig);
        if (answer === null) {
          const keepsContext = clientConfig.serverNoContextTakeover === true && serverConfig.serverNoContextTakeover === false;
          return assert.ok(clientConfig.serverMaxWindowBits === 8 || keepsContext, 'declined an offer it could honour');
        }
        const result = clientCheck(answer.response, clientConfig);
        assert.ok(result.ok && result.params !== null, answer.response);
        const client = result.params;
        const server = answer.params;
        assert.equal(client.serverNoContextTakeover, server.serverNoContextTakeover);
        assert.equal(client.serverMaxWindowBits, server.serverMaxWindowBits);
        assert.ok(client.clientMaxWindowBits <= server.clientMaxWindowBits);
        assert.ok(!server.clientNoContextTakeover || client.clientNoContextTakeover);
        assert.ok(server.serverMaxWindowBits <= (clientConfig.serverMaxWindowBits ?? 15));
      }),
    );
  });
});
