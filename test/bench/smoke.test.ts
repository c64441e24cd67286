// The benchmark suite as a smoke run: one short echo-32 run per server must produce a JSON
// result with throughput for every server and no check errors. No thresholds: CI machines vary.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tidewire-bench-smoke-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface SmokeResult {
  loadGenerator: { name: string; detail: string };
  scenarios: { name: string; servers: string[]; metrics: { key: string; medians: Record<string, number> }[]; errors: Record<string, number> }[];
  runs: { server: string; metrics: Record<string, number>; errors: number; note: string | null }[];
}

function runBench(args: string[], jsonFile: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    // --no-build: other test files may be reading dist/ at the same time.
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args, '--no-build', '--json', jsonFile], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

function checkResult(jsonFile: string, output: string, expectedServers: string[]): SmokeResult {
  const result = JSON.parse(readFileSync(jsonFile, 'utf8')) as SmokeResult;
  const scenario = result.scenarios.find((s) => s.name === 'echo-32');
  assert.ok(scenario, `no echo-32 in the result\n${output}`);
  for (const expected of expectedServers) assert.ok(scenario.servers.includes(expected), `${expected} did not run\n${output}`);
  const throughput = scenario.metrics.find((m) => m.key === 'msgs_per_s')!;
  for (const server of scenario.servers) {
    assert.ok((throughput.medians[server] ?? 0) > 0, `${server}: no throughput\n${output}`);
    assert.equal(scenario.errors[server], 0, `${server}: check or connection errors\n${output}`);
  }
  for (const run of result.runs) assert.equal(run.note, null, `${run.server}: ${run.note}`);
  return result;
}

describe('bench smoke run', { timeout: 60_000 }, () => {
  it('runs echo-32 against every server with nonzero throughput and no check errors', async () => {
    const jsonFile = path.join(tmp, 'smoke.json');
    const { code, output } = await runBench(['echo-32', '--smoke'], jsonFile);
    assert.equal(code, 0, output);
    const result = checkResult(jsonFile, output, ['tidewire', 'ws', 'net-raw']);
    assert.match(output, /load generator: /); // it says which one it used
    assert.ok(['wsload', 'node'].includes(result.loadGenerator.name));
  });

  it('runs echo-32 with the Node fallback load generator', async () => {
    const jsonFile = path.join(tmp, 'smoke-node.json');
    // Two servers are enough here: the point is the load generator (the first test covers every server).
    const { code, output } = await runBench(['echo-32', '--smoke', '--load', 'node', '--servers', 'tidewire,ws', '--duration', '0.5', '--warmup', '0.2'], jsonFile);
    assert.equal(code, 0, output);
    assert.equal(checkResult(jsonFile, output, ['tidewire', 'ws']).loadGenerator.name, 'node');
  });
});
