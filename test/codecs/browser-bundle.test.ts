// src/codecs/ must bundle for browsers (no Node built-ins): esbuild builds it for the browser
// platform, and the bundle, loaded as a module, still round-trips frames.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('../../src/codecs/index.ts', import.meta.url));

describe('src/codecs in a browser bundle', () => {
  it('bundles without Node built-ins and round-trips a frame through each codec', async () => {
    const result = await build({ entryPoints: [ENTRY], bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent' });
    assert.deepEqual(result.errors, []);
    const code = result.outputFiles[0]!.text;
    assert.doesNotMatch(code, /from\s*["']node:|require\(["']node:/);
    const bundle = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as typeof import('../../src/codecs/index.js');
    const frame = { t: 'pub', channel: 'room', epoch: 'e1', offset: 3, data: { bytes: new Uint8Array([1, 2]) } };
    for (const codec of [bundle.msgpackCodec, bundle.protobufCodec]) {
      assert.deepEqual(codec.decode(codec.encode(frame)), frame, codec.name);
    }
  });
});
