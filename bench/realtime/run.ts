// Realtime fanout benchmark: "publish to a channel with N subscribers" through tidewire's
// messaging layer (RealtimeServer + MemoryBroker) against Socket.IO's io.emit, in the same run.
//
//   node --import tsx bench/realtime/run.ts [--subscribers 10000] [--messages 20] [--runs 3]
//        [--bytes 32] [--client raw|lib] [--pace burst|turn] [--hosts 127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4] [--no-json]
//        [--dist DIR (another build of tidewire, e.g. an older commit's)] [--profile-dir DIR (servers run with --cpu-prof)]
//
// Each server runs pinned to core 0 (taskset -c 0), the load (fanout-load.ts) pinned to core 1,
// runs interleaved A B A B …; a fresh server and load process per run. Prints a markdown table
// with medians and the ratio tidewire ÷ Socket.IO; writes bench/results/realtime-<date>.json.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { LoadResult } from './fanout-load.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '../..');
type ServerId = 'tidewire' | 'socketio';
const SERVER_FILES: Record<ServerId, string> = {
  tidewire: path.join(HERE, 'fanout-servers/tidewire-realtime.mjs'),
  socketio: path.join(HERE, 'fanout-servers/socketio.mjs'),
};
const LABEL: Record<ServerId, string> = { tidewire: 'tidewire RealtimeServer', socketio: 'Socket.IO io.emit' };

export interface RealtimeBenchOptions {
  subscribers: number;
  messages: number;
  runs: number;
  bytes: number;
  client: 'lib' | 'raw';
  /** burst: each server issues the M publications back to back; turn: one per event-loop turn. */
  pace: 'burst' | 'turn';
  hosts: string[];
  timeoutMs: number;
  /** The build under test (default: this repository's dist/); it is snapshotted before the runs. */
  distDir?: string;
  /** When set, each server runs with --cpu-prof and writes its profile into this directory. */
  profileDir?: string;
  log: (line: string) => void;
}

export interface RealtimeRun extends LoadResult {
  round: number;
  serverStderr: string;
}

export interface RealtimeSummary {
  server: ServerId;
  runs: number;
  complete: boolean;
  medianDeliveriesPerSecond: number;
  medianElapsedMs: number;
  medianServerPublishMs: number | null;
}

export interface RealtimeBenchResult {
  date: string;
  machine: { nproc: number; cpu: string; node: string; platform: string };
  options: Omit<RealtimeBenchOptions, 'log'>;
  pinned: boolean;
  runs: RealtimeRun[];
  summary: RealtimeSummary[];
  /** median deliveries/s of tidewire ÷ that of Socket.IO. */
  ratio: number | null;
}

const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function hasTaskset(): boolean {
  return os.cpus().length >= 2 && spawnSync('sh', ['-c', 'command -v taskset'], { stdio: 'ignore' }).status === 0;
}

/** `sh -c 'ulimit -n <hard>; exec [taskset -c CORE] node …'`: 10,000 sockets need the raised limit. */
function launch(core: number | null, args: string[], env: Record<string, string>): ChildProcess {
  const quoted = [process.execPath, ...args].map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
  const pin = core === null ? '' : `taskset -c ${core} `;
  return track(
    spawn('sh', ['-c', `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${pin}${quoted}`], {
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    }),
  );
}

function firstLine(child: ChildProcess, what: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${what}: no output within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`)), timeoutMs);
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => (err = (err + text).slice(-4000)));
    child.stdout!.on('data', (text: string) => {
      out += text;
      const newline = out.indexOf('\n');
      if (newline >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, newline));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (code ${code}) before answering; stderr: ${err.slice(-2000)}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

async function runOnce(server: ServerId, round: number, options: RealtimeBenchOptions, pinned: boolean, dist: string): Promise<RealtimeRun> {
  const profile = options.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=${server}-round${round}.cpuprofile`];
  const serverChild = launch(pinned ? 0 : null, [...profile, SERVER_FILES[server]], { BENCH_TIDEWIRE_DIST: dist });
  let serverStderr = '';
  serverChild.stderr!.on('data', (text: Buffer) => (serverStderr = (serverStderr + text.toString()).slice(-2000)));
  try {
    const { port } = JSON.parse(await firstLine(serverChild, `${server} server`, 15_000)) as { port: number };
    const load = launch(pinned ? 1 : null, [
      '--import',
      'tsx',
      path.join(HERE, 'fanout-load.ts'),
      '--server', server,
      '--port', String(port),
      '--subscribers', String(options.subscribers),
      '--messages', String(options.messages),
      '--bytes', String(options.bytes),
      '--client', options.client,
      '--pace', options.pace,
      '--hosts', options.hosts.join(','),
      '--timeout-ms', String(options.timeoutMs),
      '--dist', dist,
    ], {});
    try {
      const line = await firstLine(load, `${server} load`, options.timeoutMs + 120_000);
      return { ...(JSON.parse(line) as LoadResult), round, serverStderr };
    } finally {
      await stop(load);
    }
  } finally {
    await stop(serverChild);
  }
}

export async function runRealtimeBench(options: RealtimeBenchOptions): Promise<RealtimeBenchResult> {
  const pinned = hasTaskset();
  if (!pinned) options.log('taskset or a second core is missing: processes are not pinned');
  // A snapshot of dist/ (this repository is shared: a rebuild mid-run must not change the code under test).
  const snapshot = path.join(REPO_ROOT, 'bench/.dist-snapshot', `realtime-${process.pid}`);
  rmSync(snapshot, { recursive: true, force: true });
  mkdirSync(path.dirname(snapshot), { recursive: true });
  cpSync(options.distDir ?? path.join(REPO_ROOT, 'dist'), snapshot, { recursive: true });
  const dist = pathToFileURL(path.join(snapshot, 'index.js')).href;
  const runs: RealtimeRun[] = [];
  try {
    for (let round = 1; round <= options.runs; round++) {
      for (const server of ['tidewire', 'socketio'] as const) {
        const run = await runOnce(server, round, options, pinned, dist);
        options.log(
          `round ${round} ${server}: ${run.complete ? 'complete' : 'INCOMPLETE'} ${run.deliveries} deliveries in ${run.elapsedMs.toFixed(1)} ms ` +
            `= ${Math.round(run.deliveriesPerSecond).toLocaleString('en-US')}/s (connect ${(run.connectMs / 1000).toFixed(1)} s, bad subscribers ${run.badSubscribers}` +
            `${run.serverPublishMs === null ? '' : `, server publish ${run.serverPublishMs.toFixed(1)} ms`}${run.coreBusy === null ? '' : `, cores busy ${run.coreBusy.join('/')}`})` +
            (run.errors.length ? `; errors: ${run.errors.slice(0, 3).join(' | ')}` : ''),
        );
        runs.push(run);
      }
    }
  } finally {
    rmSync(snapshot, { recursive: true, force: true });
  }
  const summary = (['tidewire', 'socketio'] as const).map((server): RealtimeSummary => {
    const mine = runs.filter((run) => run.server === server);
    const publish = mine.map((run) => run.serverPublishMs).filter((v): v is number => v !== null);
    return {
      server,
      runs: mine.length,
      complete: mine.every((run) => run.complete && run.badSubscribers === 0),
      medianDeliveriesPerSecond: median(mine.map((run) => run.deliveriesPerSecond)),
      medianElapsedMs: median(mine.map((run) => run.elapsedMs)),
      medianServerPublishMs: publish.length ? median(publish) : null,
    };
  });
  const [tw, sio] = summary;
  const ratio = tw && sio && sio.medianDeliveriesPerSecond > 0 ? tw.medianDeliveriesPerSecond / sio.medianDeliveriesPerSecond : null;
  const { log: _log, ...rest } = options;
  return {
    date: new Date().toISOString(),
    machine: { nproc: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.release()}` },
    options: rest,
    pinned,
    runs,
    summary,
    ratio,
  };
}

export function markdownTable(result: RealtimeBenchResult): string {
  const { subscribers, messages } = result.options;
  const lines = [
    `| server (${subscribers.toLocaleString('en-US')} subscribers × ${messages} messages, ${result.options.client} clients, ${result.options.pace}) | median deliveries/s | median end-to-end time | runs | all delivered once, in order |`,
    '|---|---:|---:|---:|---|',
  ];
  for (const s of result.summary) {
    lines.push(
      `| ${LABEL[s.server]} | ${Math.round(s.medianDeliveriesPerSecond).toLocaleString('en-US')} | ${s.medianElapsedMs.toFixed(1)} ms | ${s.runs} | ${s.complete ? 'yes' : 'NO'} |`,
    );
  }
  lines.push('', `ratio tidewire ÷ Socket.IO (median deliveries/s): **${result.ratio === null ? 'n/a' : result.ratio.toFixed(2) + '×'}** (goal ≥ 5×: ${result.ratio !== null && result.ratio >= 5 ? 'met' : 'not met'})`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      subscribers: { type: 'string', default: '10000' },
      messages: { type: 'string', default: '20' },
      runs: { type: 'string', default: '3' },
      bytes: { type: 'string', default: '32' },
      client: { type: 'string', default: 'raw' },
      pace: { type: 'string', default: 'burst' },
      hosts: { type: 'string', default: '127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4' },
      'timeout-ms': { type: 'string', default: '120000' },
      'no-json': { type: 'boolean', default: false },
      dist: { type: 'string' },
      'profile-dir': { type: 'string' },
    },
  });
  if (values.client !== 'lib' && values.client !== 'raw') throw new Error('--client lib|raw');
  if (values.pace !== 'burst' && values.pace !== 'turn') throw new Error('--pace burst|turn');
  const result = await runRealtimeBench({
    subscribers: Number(values.subscribers),
    messages: Number(values.messages),
    runs: Number(values.runs),
    bytes: Number(values.bytes),
    client: values.client,
    pace: values.pace,
    hosts: values.hosts!.split(','),
    timeoutMs: Number(values['timeout-ms']),
    ...(values.dist !== undefined ? { distDir: path.resolve(values.dist) } : {}),
    ...(values['profile-dir'] !== undefined ? { profileDir: path.resolve(values['profile-dir']) } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  if (!values['no-json']) {
    const file = path.join(REPO_ROOT, 'bench/results', `realtime-${result.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
    process.stderr.write(`wrote ${path.relative(REPO_ROOT, file)}\n`);
  }
  process.stdout.write(markdownTable(result) + '\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.on('SIGINT', () => {
    for (const child of children) child.kill('SIGKILL');
    process.exit(130);
  });
  main().catch((error) => {
    for (const child of children) child.kill('SIGKILL');
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
