import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PeerError } from '../../src/protocol/errors.js';
import {
  formatExtensions,
  isToken,
  parseExtensionHeader,
  parseTokenList,
  type ExtensionOffer,
} from '../../src/protocol/header-values.js';

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const token = fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 12 });
const lowerToken = token.map((value) => value.toLowerCase());

function assertSyntaxError(header: string | string[]): void {
  assert.throws(
    () => parseExtensionHeader(header),
    (error: unknown) => error instanceof PeerError && error.closeCode === 1002 && error.code === 'PEER_PROTOCOL_ERROR',
    `expected a syntax error for ${JSON.stringify(header)}`,
  );
}

describe('isToken', () => {
  it('accepts every tchar of RFC 7230 §3.2.6', () => {
    assert.equal(isToken(TCHARS), true);
  });

  it('rejects the empty string, separators, controls, DEL and non-ASCII', () => {
    for (const value of ['', ' ', 'a b', '\t', 'a\r\n', '\x7f', 'é', 'a\u0100']) assert.equal(isToken(value), false, value);
    for (const separator of '"(),/:;<=>?@[\\]{}') assert.equal(isToken(`a${separator}b`), false, separator);
  });
});

describe('parseTokenList', () => {
  it('returns nothing for an absent header', () => {
    assert.deepEqual(parseTokenList(undefined), []);
  });

  it('splits one header on commas and trims spaces and tabs', () => {
    assert.deepEqual(parseTokenList(' keep-alive ,\tUpgrade\t'), ['keep-alive', 'Upgrade']);
  });

  it('joins the elements of several header lines in order', () => {
    assert.deepEqual(parseTokenList(['chat, superchat', 'v2']), ['chat', 'superchat', 'v2']);
  });

  it('drops empty elements (RFC 7230 §7)', () => {
    assert.deepEqual(parseTokenList([', a,, b ,', '', ' , ']), ['a', 'b']);
  });

  it('keeps elements that are not tokens for the caller to judge', () => {
    assert.deepEqual(parseTokenList('a b, c;d'), ['a b', 'c;d']);
  });
});

describe('parseExtensionHeader', () => {
  it('returns nothing for an absent or empty header', () => {
    assert.deepEqual(parseExtensionHeader(undefined), []);
    assert.deepEqual(parseExtensionHeader(''), []);
    assert.deepEqual(parseExtensionHeader([' ', ',']), []);
  });

  it('parses extensions with valueless and valued parameters in order', () => {
    assert.deepEqual(parseExtensionHeader('foo, bar; baz=2; qux'), [
      { name: 'foo', params: [] },
      { name: 'bar', params: [['baz', '2'], ['qux', true]] },
    ]);
  });

  it('parses extensions spread over several header lines', () => {
    assert.deepEqual(parseExtensionHeader(['permessage-deflate; client_max_window_bits', 'x-foo']), [
      { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
      { name: 'x-foo', params: [] },
    ]);
  });

  it('lowercases extension and parameter names but keeps the case of values', () => {
    assert.deepEqual(parseExtensionHeader('PerMessage-Deflate; Server_Max_Window_Bits=AbC'), [
      { name: 'permessage-deflate', params: [['server_max_window_bits', 'AbC']] },
    ]);
  });

  it('accepts optional whitespace around ",", ";" and "="', () => {
    assert.deepEqual(parseExtensionHeader(' a \t;\tb = 1 ; c ,\td '), [
      { name: 'a', params: [['b', '1'], ['c', true]] },
      { name: 'd', params: [] },
    ]);
  });

  it('skips empty list elements', () => {
    assert.deepEqual(parseExtensionHeader(',, a ,,b,'), [
      { name: 'a', params: [] },
      { name: 'b', params: [] },
    ]);
  });

  it('keeps duplicate parameters and duplicate extensions so callers can reject them', () => {
    assert.deepEqual(parseExtensionHeader('a; x=1; x=2, a'), [
      { name: 'a', params: [['x', '1'], ['x', '2']] },
      { name: 'a', params: [] },
    ]);
  });

  it('unquotes a quoted-string value', () => {
    assert.deepEqual(parseExtensionHeader('a; b="10"'), [{ name: 'a', params: [['b', '10']] }]);
  });

  it('resolves backslash escapes inside a quoted-string', () => {
    assert.deepEqual(parseExtensionHeader('a; b="1\\0\\x"; c=d'), [{ name: 'a', params: [['b', '10x'], ['c', 'd']] }]);
  });

  it('rejects a quoted value that is not a token once unquoted (RFC 6455 §9.1)', () => {
    for (const header of ['a; b="1 0"', 'a; b=""', 'a; b="x,y"', 'a; b="\\""', 'a; b="é"']) assertSyntaxError(header);
  });

  it('rejects broken quoted-strings', () => {
    for (const header of ['a; b="10', 'a; b="1\\', 'a; b="1\r0"', 'a; b="1\\\n"', 'a; b="1"0', 'a; b="1" "2"']) assertSyntaxError(header);
  });

  it('rejects a missing extension or parameter name', () => {
    for (const header of [';a', 'a;', 'a;;b', 'a; =1', 'a, ;b', '=a']) assertSyntaxError(header);
  });

  it('rejects a value on the extension name and missing or bad parameter values', () => {
    for (const header of ['a=1', 'a; b=', 'a; b= ;c', 'a; b=@', 'a; b=c d', 'a; b=1=2']) assertSyntaxError(header);
  });

  it('rejects separators, controls and non-ASCII outside quoted-strings', () => {
    for (const header of ['a b', 'a/b', 'a; b c', 'a\r\nb', 'a\x00', 'é', 'a; b=é']) assertSyntaxError(header);
  });

  it('rejects the whole header when any one of several lines is invalid', () => {
    assertSyntaxError(['a', 'b;']);
  });

  it('throws nothing but PeerError(1002) on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'a=;," \\\t\x01é') }), (header) => {
        try {
          parseExtensionHeader(header);
        } catch (error) {
          assert.ok(error instanceof PeerError && error.closeCode === 1002);
        }
      }),
    );
  });

  it('reads any token value the same quoted (with arbitrary escapes) or bare', () => {
    fc.assert(
      fc.property(token, fc.array(fc.boolean(), { maxLength: 12 }), (value, escapes) => {
        const quoted = [...value].map((char, i) => (escapes[i] === true ? `\\${char}` : char)).join('');
        assert.deepEqual(parseExtensionHeader(`x; v="${quoted}"`), parseExtensionHeader(`x; v=${value}`));
      }),
    );
  });
});

describe('formatExtensions', () => {
  it('formats extensions with "; " between parameters and ", " between extensions', () => {
    const offers: ExtensionOffer[] = [
      { name: 'permessage-deflate', params: [['client_max_window_bits', true], ['server_max_window_bits', '10']] },
      { name: 'x-foo', params: [] },
    ];
    assert.equal(formatExtensions(offers), 'permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-foo');
  });

  it('formats an empty list as an empty string', () => {
    assert.equal(formatExtensions([]), '');
  });

  it('throws TypeError on a name or value that is not a token', () => {
    assert.throws(() => formatExtensions([{ name: 'a b', params: [] }]), TypeError);
    assert.throws(() => formatExtensions([{ name: 'a', params: [['b;c', true]] }]), TypeError);
    assert.throws(() => formatExtensions([{ name: 'a', params: [['b', 'x\r\ny']] }]), TypeError);
    assert.throws(() => formatExtensions([{ name: 'a', params: [['b', '']] }]), TypeError);
  });

  it('round-trips through parseExtensionHeader', () => {
    const param = fc.tuple(lowerToken, fc.oneof(token, fc.constant(true as const)));
    const offer = fc.tuple(lowerToken, fc.array(param, { maxLength: 4 })).map(([name, params]): ExtensionOffer => ({ name, params }));
    fc.assert(
      fc.property(fc.array(offer, { maxLength: 4 }), (offers) => {
        assert.deepEqual(parseExtensionHeader(formatExtensions(offers)), offers);
      }),
    );
  });
});
