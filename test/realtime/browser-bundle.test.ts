// The browser bundle of the realtime client (scripts/build-browser-bundle.mjs): it builds, pulls in
// nothing from node:* or src/node/, stays within the size goal (≤ 8 KB min+gzip), and the bundled
// client works against a real RealtimeServer.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { WebSocket } from '../../src/index.js';
import { RealtimeServer } from '../../src/realtime/realtime-server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SIZE_GOAL_GZIP_BYTES = 8192;

interface BuildReport {
  outfile: string;
  rawBytes: number;
  minBytes: number;
  gzipBytes: number;
  inputs: string[];
}

describe('browser bundle', () => {
  let dir: string;
  let report: BuildReport;
  let code: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tidewire-bundle-'));
    const outfile = join(dir, 'tidewire-realtime.min.js');
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/build-browser-bundle.mjs'), '--outfile', outfile, '--json'], { cwd: ROOT });
    report = JSON.parse(stdout) as BuildReport;
    code = readFileSync(outfile, 'utf8');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('imports nothing from node:* or src/node/', () => {
    assert.doesNotMatch(code, /["'`]node:/, 'no node: specifier in the bundle');
    assert.doesNotMatch(code, /\brequire\s*\(/, 'no require()');
    const forbidden = report.inputs.filter((input) => input.startsWith('node:') || input.includes('src/node/') || input.includes('node_modules/'));
    assert.deepEqual(forbidden, [], 'every module comes from src/realtime/ or src/protocol/');
    assert.ok(report.inputs.includes('src/realtime/realtime-client.ts'));
  });

  it(`is at most ${SIZE_GOAL_GZIP_BYTES} bytes min+gzip`, (t) => {
    t.diagnostic(`raw ${report.rawBytes} B, minified ${report.minBytes} B, min+gzip ${report.gzipBytes} B (${report.inputs.length} modules)`);
    assert.ok(report.gzipBytes <= SIZE_GOAL_GZIP_BYTES, `${report.gzipBytes} B min+gzip is over the ${SIZE_GOAL_GZIP_BYTES} B goal`);
  });

  it('exports RealtimeClient and jsonCodec, and the bundled client publishes through a real server', async () => {
    const bundle = (await import(pathToFileURL(report.outfile).href)) as Record<string, unknown>;
    assert.equal(typeof bundle.RealtimeClient, 'function');
    assert.equal((bundle.jsonCodec as { name?: string }).name, 'json');
    const server = http.createServer();
    const rt = new RealtimeServer({ server, heartbeatIntervalMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const Client = bundle.RealtimeClient as new (url: string, options: object) => {
      publish(channel: string, data: unknown): Promise<{ offset: number }>;
      close(): void;
    };
    const client = new Client(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/realtime`, { WebSocket });
    try {
      assert.equal((await client.publish('chat', 'from the bundle')).offset, 1);
    } finally {
      client.close();
      await rt.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
