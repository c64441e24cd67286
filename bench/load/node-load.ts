// The Node load generator, for machines without wsload (no gcc): worker threads that each drive a
// share of the connections, coordinated from the main thread. It takes wsload's options (the ones
// the suite uses) and prints the same JSON lines, so the harness treats both alike. Being Node on
// one core, it saturates long before wsload does: its numbers understate the fast servers.
//
// Usage: node --import tsx bench/load/node-load.ts echo|raw|idle|fanout [wsload options] [--workers N]

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { addCounts, emptyCounts, histogramQuantile, nowNs, type FromWorker, type LoadMode, type PayloadKind, type WorkerConfig, type WorkerCounts } from './load-stats.js';

interface Options {
  mode: LoadMode;
  port: number;
  conns: number;
  depth: number;
  size: number;
  timeS: number;
  warmupS: number;
  payload: PayloadKind;
  check: boolean;
  nsrc: number;
  window: number;
  holdS: number;
  msgs: number;
  deflate: boolean;
  serverPid: number;
  label: string;
  timeoutS: number;
  workers: number;
}

function parseOptions(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string', short: 'p', default: '9001' },
      conns: { type: 'string', short: 'c', default: '100' },
      depth: { type: 'string', short: 'd' },
      size: { type: 'string', short: 's' },
      time: { type: 'string', short: 't', default: '10' },
      warmup: { type: 'string', short: 'w', default: '2' },
      text: { type: 'boolean', short: 'T', default: false },
      json: { type: 'boolean', default: false },
      check: { type: 'boolean', short: 'x', default: false },
      src: { type: 'string', short: 'n', default: '1' },
      window: { type: 'string', short: 'W', default: '256' },
      hold: { type: 'string', short: 'H', default: '10' },
      msgs: { type: 'string', short: 'm', default: '100' },
      deflate: { type: 'boolean', short: 'z', default: false },
      'server-pid': { type: 'string', short: 'P', default: '0' },
      label: { type: 'string', short: 'l', default: '' },
      timeout: { type: 'string', default: '60' },
      quiet: { type: 'boolean', short: 'q', default: false },
      workers: { type: 'string', default: '2' },
    },
  });
  const mode = positionals[0];
  if (mode !== 'echo' && mode !== 'raw' && mode !== 'idle' && mode !== 'fanout') {
    throw new Error('usage: node-load echo|raw|idle|fanout [wsload options] [--workers N]');
  }
  const fanout = mode === 'fanout';
  const options: Options = {
    mode,
    port: Number(values.port),
    conns: Number(values.conns),
    depth: Number(values.depth ?? (fanout ? 1 : 16)),
    size: Number(values.size ?? (fanout ? 64 : 32)),
    timeS: Number(values.time),
    warmupS: Number(values.warmup),
    payload: values.json ? 'json' : values.text ? 'text' : 'binary',
    check: values.check,
    nsrc: Number(values.src),
    window: Number(values.window),
    holdS: Number(values.hold),
    msgs: Number(values.msgs),
    deflate: values.deflate,
    serverPid: Number(values['server-pid']),
    label: values.label,
    timeoutS: Number(values.timeout),
    workers: Math.max(1, Number(values.workers)),
  };
  if (mode === 'raw' && options.deflate) throw new Error('raw mode has no WebSocket features');
  if (fanout && (options.size < 16 || options.size > 4096)) throw new Error('fanout messages must be 16..4096 bytes');
  if (options.payload === 'json' && options.size < 48) throw new Error('--json needs --size of at least 48');
  return options;
}

// ---- server CPU and memory from /proc (as wsload's -P) -------------------------------------

function serverCpuSeconds(pid: number): number {
  if (pid <= 0) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

function serverRssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? -1);
  } catch {
    return -1;
  }
}

interface CpuSnapshot {
  ns: number;
  client: number;
  server: number;
  /** Whole machine, in clock ticks from /proc/stat: busy (all but idle and iowait) and total. */
  machineBusy: number;
  machineTotal: number;
}

function machineTicks(): { busy: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((sum, x) => sum + x, 0);
    return { busy: total - fields[3]! - fields[4]!, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

function cpuSnapshot(options: Options): CpuSnapshot {
  const usage = process.cpuUsage();
  const machine = machineTicks();
  return { ns: nowNs(), client: (usage.user + usage.system) / 1e6, server: serverCpuSeconds(options.serverPid), machineBusy: machine.busy, machineTotal: machine.total };
}

/** CPU use in % of one core, as wsload reports it; other_pct is what neither side used (the noise). */
function cpuFields(options: Options, a: CpuSnapshot, b: CpuSnapshot): Record<string, number> {
  const seconds = (b.ns - a.ns) / 1e9;
  const client = ((b.client - a.client) / seconds) * 100;
  const fields: Record<string, number> = { client_cpu_pct: round1(client) };
  const server = ((b.server - a.server) / seconds) * 100;
  if (options.serverPid > 0) fields['server_cpu_pct'] = round1(server);
  if (b.machineTotal > a.machineTotal) {
    const busy = ((b.machineBusy - a.machineBusy) / (b.machineTotal - a.machineTotal)) * 100 * availableParallelism();
    fields['machine_busy_pct'] = round1(busy);
    if (options.serverPid > 0) fields['other_pct'] = round1(Math.max(0, busy - client - server));
  }
  return fields;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---- the workers ------------------------------------------------------------------------------

class Crew {
  readonly workers: Worker[] = [];
  readonly configs: WorkerConfig[] = [];
  private listeners: ((message: FromWorker, index: number) => void)[] = [];

  constructor(options: Options) {
    const count = Math.min(options.workers, Math.max(1, options.conns));
    const isTs = import.meta.url.endsWith('.ts');
    const workerUrl = new URL(isTs ? './node-load-worker.ts' : './node-load-worker.js', import.meta.url);
    // Under tsx the worker needs the TypeScript loader registered in its own thread first.
    const bootstrap = isTs
      ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); })`
      : null;
    let firstId = 0;
    for (let i = 0; i < count; i++) {
      const share = Math.floor(options.conns / count) + (i < options.conns % count ? 1 : 0);
      const config: WorkerConfig = {
        mode: options.mode,
        host: '127.0.0.1',
        port: options.port,
        firstId,
        count: share,
        depth: options.depth,
        size: options.size,
        payload: options.payload,
        deflate: options.deflate,
        check: options.check,
        nsrc: options.nsrc,
        window: Math.max(1, Math.floor(options.window / count)),
        hostsPublisher: i === 0,
        msgs: options.msgs,
      };
      firstId += share;
      const worker = bootstrap === null ? new Worker(workerUrl, { workerData: config }) : new Worker(bootstrap, { eval: true, workerData: config });
      worker.on('message', (message: FromWorker) => {
        for (const listener of this.listeners) listener(message, i);
      });
      worker.on('error', (error: Error) => {
        process.stderr.write(`node-load: worker ${i}: ${error.stack ?? error.message}\n`);
        process.exit(2);
      });
      this.workers.push(worker);
      this.configs.push(config);
    }
  }

  on(listener: (message: FromWorker, index: number) => void): void {
    this.listeners.push(listener);
  }

  send(message: unknown, index?: number): void {
    for (const [i, worker] of this.workers.entries()) if (index === undefined || i === index) worker.postMessage(message);
  }

  /** Resolves with one message of type t from every worker. */
  collect<T extends FromWorker['t']>(t: T, timeoutMs: number): Promise<Extract<FromWorker, { t: T }>[]> {
    return new Promise((resolve, reject) => {
      const got: Extract<FromWorker, { t: T }>[] = [];
      const timer = setTimeout(() => reject(new Error(`timed out waiting for "${t}" from the workers`)), timeoutMs);
      this.on((message) => {
        if (message.t !== t) return;
        got.push(message as Extract<FromWorker, { t: T }>);
        if (got.length === this.workers.length) {
          clearTimeout(timer);
          resolve(got);
        }
      });
    });
  }

  async stop(): Promise<WorkerCounts> {
    const stopped = this.collect('stopped', 30_000);
    this.send({ t: 'stop' });
    const total = emptyCounts();
    for (const message of await stopped) addCounts(total, message.counts);
    await sleep(100); // let the sockets' FINs go out before the threads end
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    return total;
  }
}

function emit(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(fields)}\n`);
}

function common(options: Options, mode: string): Record<string, unknown> {
  return { mode, label: options.label, target: `127.0.0.1:${options.port}`, generator: 'node', workers: options.workers };
}

function errorFields(total: WorkerCounts): Record<string, number> {
  return {
    verify_failures: total.verifyFailures,
    protocol_errors: total.protocolErrors,
    conn_errors: total.connErrors,
    connect_failures: total.connectFailures,
  };
}

async function openAll(crew: Crew, options: Options): Promise<{ open: number; failed: number; seconds: number }> {
  const ready = await crew.collect('ready', options.timeoutS * 1000);
  const open = ready.reduce((sum, r) => sum + r.open, 0);
  const failed = ready.reduce((sum, r) => sum + r.failed, 0);
  const first = Math.min(...ready.filter((r) => r.firstConnectNs > 0).map((r) => r.firstConnectNs));
  const last = Math.max(...ready.map((r) => r.lastReadyNs));
  return { open, failed, seconds: (last - first) / 1e9 };
}

function failRun(options: Options, why: string, open: number, failed: number): never {
  emit({ ...common(options, options.mode), error: why, open, connect_failures: failed });
  process.exit(1);
}

async function runEcho(options: Options): Promise<WorkerCounts> {
  const crew = new Crew(options);
  const { open, failed } = await openAll(crew, options);
  if (open === 0) failRun(options, 'no connection could be opened', open, failed);
  await sleep(options.warmupS * 1000);
  crew.send({ t: 'measure' });
  const a = cpuSnapshot(options);
  await sleep(options.timeS * 1000);
  const b = cpuSnapshot(options);
  const total = await crew.stop();
  const seconds = (b.ns - a.ns) / 1e9;
  emit({
    ...common(options, options.mode),
    conns: options.conns,
    depth: options.depth,
    size: options.size,
    payload: options.payload,
    deflate: options.deflate,
    check: options.check,
    duration_s: round1(seconds * 100) / 100,
    msgs: total.msgs,
    msgs_per_s: Math.round(total.msgs / seconds),
    mb_per_s: Math.round((total.bytes / 1e6 / seconds) * 100) / 100,
    lat_us: Object.fromEntries(
      ([['p50', 0.5], ['p90', 0.9], ['p99', 0.99], ['p999', 0.999]] as const).map(([name, p]) => [name, round1(histogramQuantile(total.histogram, p))]),
    ),
    ...cpuFields(options, a, b),
    ...errorFields(total),
  });
  return total;
}

async function runIdle(options: Options): Promise<WorkerCounts> {
  const crew = new Crew(options);
  const a = cpuSnapshot(options);
  const { open, failed, seconds } = await openAll(crew, options);
  if (open === 0) failRun(options, 'no connection could be opened', open, failed);
  const b = cpuSnapshot(options);
  const handshakes = Math.round(open / seconds);
  emit({
    event: 'all_open',
    mode: 'idle',
    label: options.label,
    generator: 'node',
    conns: options.conns,
    open,
    failed,
    connect_s: Math.round(seconds * 1000) / 1000,
    handshakes_per_s: handshakes,
    ...(options.serverPid > 0 ? { server_rss_kb: serverRssKb(options.serverPid) } : {}),
    ...cpuFields(options, a, b),
  });
  await sleep(options.holdS * 1000);
  const reports = crew.collect('report', 10_000);
  crew.send({ t: 'report' });
  const stillOpen = (await reports).reduce((sum, r) => sum + r.stillOpen, 0);
  const serverRssEnd = options.serverPid > 0 ? { server_rss_kb_end: serverRssKb(options.serverPid) } : {};
  const total = await crew.stop();
  emit({
    ...common(options, 'idle'),
    conns: options.conns,
    open,
    failed,
    connect_s: Math.round(seconds * 1000) / 1000,
    handshakes_per_s: handshakes,
    held_s: options.holdS,
    still_open: stillOpen,
    closed_during_hold: open - stillOpen,
    ...serverRssEnd,
    protocol_errors: total.protocolErrors,
  });
  return total;
}

async function runFanout(options: Options): Promise<WorkerCounts> {
  const crew = new Crew(options);
  const { open, failed, seconds: connectSeconds } = await openAll(crew, options);
  if (failed > 0) failRun(options, 'subscribers failed to connect', open, failed);
  // Subscribers first, then the publisher (on worker 0), as wsload does.
  const publisherReady = new Promise<boolean>((resolve) => {
    crew.on((message) => message.t === 'publisher-ready' && resolve(message.ok));
    setTimeout(() => resolve(false), options.timeoutS * 1000).unref();
  });
  crew.send({ t: 'connect-publisher' }, 0);
  if (!(await publisherReady)) failRun(options, 'no connection could be opened', open, failed);
  await sleep(500); // as wsload: let the last handshakes settle before publishing

  const expectedWorkers = crew.configs.filter((config) => config.count > 0).length;
  const doneWorkers = new Uint32Array(options.msgs);
  const sentNs = new Float64Array(options.msgs);
  const firstNs = new Float64Array(options.msgs);
  const allNs = new Float64Array(options.msgs);
  let sent = 0;
  let completed = 0;
  const a = cpuSnapshot(options);
  const startNs = nowNs();
  let endNs = 0;
  const finished = new Promise<void>((resolve) => {
    const pump = (): void => {
      while (sent < options.msgs && sent - completed < options.depth) {
        sentNs[sent] = nowNs();
        crew.send({ t: 'publish', k: sent++ }, 0);
      }
    };
    crew.on((message) => {
      if (message.t !== 'fanout-done') return;
      const k = message.k;
      if (firstNs[k] === 0 || message.firstNs < firstNs[k]!) firstNs[k] = message.firstNs;
      allNs[k] = Math.max(allNs[k]!, message.allNs);
      if (++doneWorkers[k]! < expectedWorkers) return;
      if (++completed === options.msgs) {
        endNs = nowNs();
        resolve();
      } else {
        pump();
      }
    });
    pump();
  });
  await Promise.race([finished, sleep(options.timeoutS * 1000)]);
  if (endNs === 0) endNs = nowNs();
  const b = cpuSnapshot(options);
  const total = await crew.stop();
  const seconds = (endNs - startNs) / 1e9;
  const latencies = (ends: Float64Array): number[] =>
    Array.from(ends, (end, k) => (end > 0 ? (end - sentNs[k]!) / 1e6 : Number.NaN)).filter((x) => !Number.isNaN(x)).sort((x, y) => x - y);
  const pct = (sorted: number[], p: number): number => (sorted.length === 0 ? 0 : Math.round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]! * 100) / 100);
  const all = latencies(allNs);
  const first = latencies(firstNs);
  emit({
    ...common(options, 'fanout'),
    subscribers: options.conns,
    broadcasts: options.msgs,
    size: options.size,
    depth: options.depth,
    completed,
    deliveries: total.msgs,
    expected: options.conns * options.msgs,
    elapsed_s: Math.round(seconds * 1000) / 1000,
    deliveries_per_s: Math.round(total.msgs / seconds),
    all_recv_ms: { p50: pct(all, 0.5), p99: pct(all, 0.99), max: pct(all, 1) },
    first_recv_ms: { p50: pct(first, 0.5), max: pct(first, 1) },
    handshakes_per_s: Math.round(open / connectSeconds),
    ...cpuFields(options, a, b),
    ...errorFields(total),
  });
  return total;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const total =
    options.mode === 'idle' ? await runIdle(options) : options.mode === 'fanout' ? await runFanout(options) : await runEcho(options);
  process.exit(total.verifyFailures > 0 || total.protocolErrors > 0 ? 1 : 0);
}

main().catch((error: unknown) => {
  process.stderr.write(`node-load: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
