#!/usr/bin/env node
// Builds the browser bundle of the realtime client: src/realtime/browser-entry.ts → one minified
// ESM file (default dist/browser/tidewire-realtime.min.js; `--outfile <path>` to change it), then
// prints its raw (unminified), minified and min+gzip sizes; `--json` prints them as one JSON line.

import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outfileIndex = args.indexOf('--outfile');
const outfile = outfileIndex === -1 ? join(root, 'dist/browser/tidewire-realtime.min.js') : args[outfileIndex + 1];
if (outfile === undefined) throw new Error('--outfile needs a path');

const options = {
  entryPoints: [join(root, 'src/realtime/browser-entry.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
};
const result = await build({ ...options, outfile, minify: true, metafile: true });
// The same bundle unminified, only to report what minifying saves.
const raw = await build({ ...options, write: false, minify: false });

const code = readFileSync(outfile);
const sizes = {
  outfile,
  rawBytes: raw.outputFiles[0].contents.length,
  minBytes: code.length,
  gzipBytes: gzipSync(code, { level: 9 }).length,
  inputs: Object.keys(result.metafile.inputs).sort(),
};
if (args.includes('--json')) {
  console.log(JSON.stringify(sizes));
} else {
  const kb = (bytes) => `${(bytes / 1024).toFixed(2)} KB`;
  console.log(`${relative(process.cwd(), outfile)}: ${kb(sizes.rawBytes)} raw, ${kb(sizes.minBytes)} minified, ${kb(sizes.gzipBytes)} min+gzip (${sizes.inputs.length} modules)`);
}
