// Cross-node fan-out benchmark (issue 5, item 5): publish on one `tidewire serve --redis` node,
// subscribers on the two others (scenario "cross-node"), against one `tidewire serve` node with
// MemoryBroker carrying the same publisher and subscribers (scenario "single-node"), in the same run.
//
//   node --import tsx bench/cross-node/run.ts [--subscribers 2000] [--messages 200] [--runs 3]
//        [--redis redis://127.0.0.1:6379] [--timeout-ms 120000] [--no-json]
//
// The server nodes are child processes (`node --import tsx src/cli/main.ts serve …`) pinned to
// core 0 (the three cross-node nodes share it), the load (load.ts: publisher + subscribers in one
// process, so send and receive times come from one clock) pinned to core 1; runs interleaved
// A B A B …, fresh nodes and load process per run, a unique --key-prefix per cross-node run (its
// keys are deleted afterwards). Prints a markdown table of medians with the ratio cross-node ÷
// single-node; writes bench/results/cross-node-<date>.json.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import type { CrossNodeLoadResult } from './load.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '../..');
const CLI_MAIN = path.join(REPO_ROOT, 'src/cli/main.ts');
const LOAD = path.join(HERE, 'load.ts');

export type Scenario = 'cross-node' | 'single-node';
const LABEL: Record<Scenario, string> = {
  'cross-node': 'cross-node: 3 × serve --redis (publish on node 1, subscribers on 2 and 3)',
  'single-node': 'single-node: 1 × serve (MemoryBroker)',
};

export interface CrossNodeBenchOptions {
  subscribers: number;
  messages: number;
  runs: number;
  redisUrl: string;
  timeoutMs: number;
  log: (line: string) => void;
}

export interface CrossNodeRun extends CrossNodeLoadResult {
  scenario: Scenario;
  round: number;
}

export interface ScenarioSummary {
  scenario: Scenario;
  label: string;
  runs: number;
  allComplete: boolean;
  medianDeliveriesPerSecond: number;
  medianElapsedMs: number;
  medianLatencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Median busy share of core 0 (servers) and core 1 (load) while delivering; null off Linux. */
  medianCoreBusy: number[] | null;
  errors: string[];
}

export interface CrossNodeBenchResult {
  date: string;
  machine: { nproc: number; cpu: string; node: string; platform: string; pinned: boolean };
  options: Omit<CrossNodeBenchOptions, 'log'>;
  runs: CrossNodeRun[];
  summary: ScenarioSummary[];
  /** median deliveries/s cross-node ÷ single-node. */
  ratio: number;
  allComplete: boolean;
}

const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function hasTaskset(): boolean {
  return os.cpus().length >= 2 && spawnSync('sh', ['-c', 'command -v taskset'], { stdio: 'ignore' }).status === 0;
}

/** `sh -c 'ulimit -n <hard>; exec [taskset -c CORE] node …'`: thousands of sockets need the raised limit. */
function launch(core: number | null, args: string[]): ChildProcess {
  const quoted = [process.execPath, ...args].map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
  const pin = core === null ? '' : `taskset -c ${core} `;
  return track(
    spawn('sh', ['-c', `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${pin}${quoted}`], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    }),
  );
}

/** Resolves with the first stdout line matching `pattern`; rejects on exit or timeout. */
function waitForLine(child: ChildProcess, pattern: RegExp, what: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let done = false;
    const timer = setTimeout(() => finish(new Error(`${what}: nothing within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`)), timeoutMs);
    const finish = (result: Error | string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (typeof result === 'string') resolve(result);
      else reject(result);
    };
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => (err = (err + text).slice(-4000)));
    child.stdout!.on('data', (text: string) => {
      out += text;
      for (const line of out.split('\n')) if (pattern.test(line)) finish(line);
    });
    child.once('exit', (code) => finish(new Error(`${what} exited (code ${code}); stderr: ${err.slice(-2000)}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Starts one `tidewire serve` node on a free port; resolves with its WebSocket URL. */
async function startNode(nodeId: string, extra: string[], pinned: boolean): Promise<{ child: ChildProcess; url: string }> {
  const child = launch(pinned ? 0 : null, ['--import', 'tsx', CLI_MAIN, 'serve', '--port', '0', '--node-id', nodeId, '--heartbeat-ms', '0', ...extra]);
  try {
    const line = await waitForLine(child, /^tidewire serve listening on /, `serve ${nodeId}`, 30_000);
    return { child, url: /listening on (\S+)/.exec(line)![1]! };
  } catch (error) {
    await stop(child);
    throw error;
  }
}

async function deletePrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // a failure surfaces as the rejected command
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function runOnce(scenario: Scenario, round: number, options: CrossNodeBenchOptions, pinned: boolean): Promise<CrossNodeRun> {
  const tag = `${process.pid}-${round}-${Date.now().toString(36)}`;
  const prefix = `tidewire-bench-xnode-${tag}:`;
  const channel = `fan-${tag}`;
  const nodes: { child: ChildProcess; url: string }[] = [];
  try {
    if (scenario === 'cross-node') {
      const redisArgs = ['--redis', options.redisUrl, '--key-prefix', prefix];
      nodes.push(...(await Promise.all([1, 2, 3].map((n) => startNode(`xnode-${n}`, redisArgs, pinned)))));
    } else {
      nodes.push(await startNode('single', [], pinned));
    }
    const publishUrl = nodes[0]!.url;
    const subUrls = scenario === 'cross-node' ? [nodes[1]!.url, nodes[2]!.url] : [nodes[0]!.url];
    const load = launch(pinned ? 1 : null, [
      '--import', 'tsx', LOAD,
      '--publish-url', publishUrl,
      '--sub-urls', subUrls.join(','),
      '--channel', channel,
      '--subscribers', String(options.subscribers),
      '--messages', String(options.messages),
      '--timeout-ms', String(options.timeoutMs),
    ]);
    try {
      const line = await waitForLine(load, /^\{/, `load (${scenario})`, options.timeoutMs + 60_000);
      return { scenario, round, ...(JSON.parse(line) as CrossNodeLoadResult) };
    } finally {
      await stop(load);
    }
  } finally {
    await Promise.all(nodes.map((node) => stop(node.child)));
    if (scenario === 'cross-node') await deletePrefix(options.redisUrl, prefix).catch((error: unknown) => options.log(`could not delete ${prefix}*: ${String(error)}`));
  }
}

function summarize(scenario: Scenario, runs: CrossNodeRun[]): ScenarioSummary {
  const mine = runs.filter((run) => run.scenario === scenario);
  return {
    scenario,
    label: LABEL[scenario],
    runs: mine.length,
    allComplete: mine.every((run) => run.complete),
    medianDeliveriesPerSecond: median(mine.map((run) => run.deliveriesPerSecond)),
    medianElapsedMs: median(mine.map((run) => run.elapsedMs)),
    medianLatencyMs: {
      p50: median(mine.map((run) => run.latencyMs.p50)),
      p90: median(mine.map((run) => run.latencyMs.p90)),
      p99: median(mine.map((run) => run.latencyMs.p99)),
      max: median(mine.map((run) => run.latencyMs.max)),
    },
    medianCoreBusy: mine.every((run) => run.coreBusy !== null)
      ? [0, 1].map((core) => median(mine.map((run) => run.coreBusy![core] ?? NaN)))
      : null,
    errors: mine.flatMap((run) => run.errors.map((error) => `round ${run.round}: ${error}`)).slice(0, 20),
  };
}

export async function runCrossNodeBench(options: CrossNodeBenchOptions): Promise<CrossNodeBenchResult> {
  const pinned = hasTaskset();
  if (!pinned) options.log('taskset or a second core missing: servers and load are not pinned');
  const runs: CrossNodeRun[] = [];
  for (let round = 1; round <= options.runs; round++) {
    for (const scenario of ['cross-node', 'single-node'] as const) {
      const run = await runOnce(scenario, round, options, pinned);
      options.log(
        `round ${round} ${scenario}: ${Math.round(run.deliveriesPerSecond)} deliveries/s, ${run.elapsedMs.toFixed(0)} ms, ` +
          `p50 ${run.latencyMs.p50.toFixed(1)} p99 ${run.latencyMs.p99.toFixed(1)} ms, cores busy ${run.coreBusy?.join('/') ?? 'n/a'}, ${run.complete ? 'complete' : `INCOMPLETE (${run.deliveries} deliveries, ${run.badSubscribers} bad subscribers)`}` +
          (run.errors.length > 0 ? `; errors: ${run.errors.slice(0, 3).join('; ')}` : ''),
      );
      runs.push(run);
    }
  }
  const summary = [summarize('cross-node', runs), summarize('single-node', runs)];
  const { log: _log, ...rest } = options;
  return {
    date: new Date().toISOString(),
    machine: { nproc: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.release()}`, pinned },
    options: rest,
    runs,
    summary,
    ratio: summary[0]!.medianDeliveriesPerSecond / summary[1]!.medianDeliveriesPerSecond,
    allComplete: runs.every((run) => run.complete),
  };
}

const fmt = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

export function markdownTable(result: CrossNodeBenchResult): string {
  const [cross, single] = result.summary as [ScenarioSummary, ScenarioSummary];
  const rows = [
    '| scenario | deliveries/s | time to last delivery (ms) | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | core 0 / core 1 busy | complete |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...[cross, single].map(
      (s) =>
        `| ${s.label} | ${Math.round(s.medianDeliveriesPerSecond).toLocaleString('en-US')} | ${fmt(s.medianElapsedMs, 0)} | ${fmt(s.medianLatencyMs.p50)} | ${fmt(s.medianLatencyMs.p90)} | ${fmt(s.medianLatencyMs.p99)} | ${fmt(s.medianLatencyMs.max)} | ${s.medianCoreBusy === null ? 'n/a' : s.medianCoreBusy.map((b) => `${Math.round(b * 100)} %`).join(' / ')} | ${s.allComplete ? `yes (${s.runs}/${s.runs})` : 'NO'} |`,
    ),
    `| ratio cross-node ÷ single-node | ${fmt(result.ratio, 2)} | ${fmt(cross.medianElapsedMs / single.medianElapsedMs, 2)} | ${fmt(cross.medianLatencyMs.p50 / single.medianLatencyMs.p50, 2)} | ${fmt(cross.medianLatencyMs.p90 / single.medianLatencyMs.p90, 2)} | ${fmt(cross.medianLatencyMs.p99 / single.medianLatencyMs.p99, 2)} | ${fmt(cross.medianLatencyMs.max / single.medianLatencyMs.max, 2)} | | |`,
  ];
  return rows.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      subscribers: { type: 'string', default: '2000' },
      messages: { type: 'string', default: '200' },
      runs: { type: 'string', default: '3' },
      redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
      'timeout-ms': { type: 'string', default: '120000' },
      'no-json': { type: 'boolean', default: false },
    },
  });
  const result = await runCrossNodeBench({
    subscribers: Number(values.subscribers),
    messages: Number(values.messages),
    runs: Number(values.runs),
    redisUrl: values.redis!,
    timeoutMs: Number(values['timeout-ms']),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const table = markdownTable(result);
  process.stdout.write(
    `\nCross-node fan-out: ${result.options.subscribers} subscribers × ${result.options.messages} messages, ${result.options.runs} runs each (medians); ` +
      `${result.machine.nproc} cores (${result.machine.cpu}), Node ${result.machine.node}, ${result.machine.pinned ? 'servers on core 0, load on core 1' : 'not pinned'}\n\n${table}\n`,
  );
  for (const s of result.summary) if (s.errors.length > 0) process.stdout.write(`\n${s.scenario} errors:\n${s.errors.map((e) => `- ${e}`).join('\n')}\n`);
  if (!values['no-json']) {
    const dir = path.join(REPO_ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `cross-node-${result.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
    writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
    process.stdout.write(`\nwrote ${path.relative(REPO_ROOT, file)}\n`);
  }
  process.exitCode = result.allComplete ? 0 : 1;
}

if (process.argv[1]?.endsWith('cross-node/run.ts')) {
  main().catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
