// Benchmark entry point: `npm run bench -- <scenario…|all> [--runs N] [--duration S] [--smoke]`.
// Starts each server under test pinned to core 0, drives it with the load generator pinned to
// core 1 (wsload, or the Node fallback), interleaves the servers round by round, then reports
// medians and same-run ratios (bench/report.ts).

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { REPO_ROOT, WSLOAD_SOURCE_DIR, buildWsload, killChildren, runLoad, type LoadLine } from './load/wsload.js';
import { consoleReport, formatDuration, summarize, writeDocs, writeJson, type RunRecord, type SuiteInfo } from './report.js';
import { SCENARIOS, serverSpec, type LoadSettings, type Scenario, type ServerId } from './scenarios.js';
import { startServer, type MemoryUsage } from './server-process.js';

const HELP = `usage: npm run bench -- <scenario…|all> [options]

scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}

options:
  --runs N          runs per server, interleaved (default 3; 1 with --smoke)
  --duration S      measured seconds of each echo run (default 8; fanout runs scale with it)
  --warmup S        warm-up seconds before measuring (default 2)
  --smoke           a ~1 s run of each server, to see that everything works (no docs update)
  --load KIND       auto (default: wsload when it can be built), wsload, or node
                    (wsload's sources: $TIDEWIRE_WSLOAD_SRC, else ../shared/tools/wsload)
  --servers LIST    only these servers (tidewire,ws,net-raw,c-raw)
  --json FILE       where to write the JSON result (default bench/results/<date>.json)
  --docs, --no-docs rewrite the results section of docs/BENCHMARKS.md (default: only for "all")
  --no-build        use dist/ as it is (default: rebuild it when src/ is newer)`;

interface CliOptions {
  scenarios: Scenario[];
  runs: number;
  settings: LoadSettings;
  load: 'auto' | 'wsload' | 'node';
  servers: ServerId[] | null;
  jsonFile: string | null;
  docs: boolean;
  build: boolean;
}

function parseCli(argv: string[]): CliOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      runs: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      load: { type: 'string', default: 'auto' },
      servers: { type: 'string' },
      json: { type: 'string' },
      docs: { type: 'boolean' },
      'no-docs': { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(`${HELP}\n`);
    process.exit(values.help ? 0 : 2);
  }
  const names = positionals.flatMap((p) => p.split(',')).filter(Boolean);
  const all = names.includes('all');
  const scenarios = all ? SCENARIOS : names.map((name) => SCENARIOS.find((s) => s.name === name) ?? fail(`unknown scenario "${name}"\n\n${HELP}`));
  const smoke = values.smoke;
  const number = (text: string | undefined, fallback: number, name: string): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    return Number.isFinite(value) && value > 0 ? value : fail(`--${name} must be a positive number`);
  };
  const load = values.load;
  if (load !== 'auto' && load !== 'wsload' && load !== 'node') fail('--load must be auto, wsload or node');
  const servers = values.servers === undefined ? null : (values.servers.split(',') as ServerId[]);
  return {
    scenarios,
    runs: Math.round(number(values.runs, smoke ? 1 : 3, 'runs')),
    settings: { durationS: number(values.duration, smoke ? 1 : 8, 'duration'), warmupS: number(values.warmup, smoke ? 0.3 : 2, 'warmup'), smoke },
    load,
    servers,
    jsonFile: values.json ?? null,
    docs: !smoke && !values['no-docs'] && (values.docs ?? all),
    build: !values['no-build'],
  };
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

// ---- preparation: dist/, the load generator, pinning ------------------------------------------------

/** A fingerprint of the built code under test, to notice a rebuild of dist/ in the middle of a suite. */
function distFingerprint(): string {
  const dist = path.join(REPO_ROOT, 'dist');
  const hash = createHash('sha1');
  for (const entry of readdirSync(dist, { recursive: true, encoding: 'utf8' }).sort()) {
    if (entry.endsWith('.js')) hash.update(entry).update(readFileSync(path.join(dist, entry)));
  }
  return hash.digest('hex');
}

/**
 * Copies dist/ to bench/.dist-snapshot/ so that the whole suite measures the code built when it
 * started, even if someone rebuilds dist/ meanwhile (this repository is shared). Bare imports
 * (ws, commander …) still resolve through the repository's node_modules.
 */
function snapshotDist(): { url: string; remove: () => void } {
  // One directory per suite: a smoke test may run beside a long suite.
  const target = path.join(REPO_ROOT, 'bench/.dist-snapshot', String(process.pid));
  rmSync(target, { recursive: true, force: true });
  cpSync(path.join(REPO_ROOT, 'dist'), target, { recursive: true });
  const remove = () => rmSync(target, { recursive: true, force: true });
  process.once('exit', remove);
  return { url: pathToFileURL(path.join(target, 'index.js')).href, remove };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (entry.endsWith('.ts')) newest = Math.max(newest, statSync(path.join(dir, entry)).mtimeMs);
  }
  return newest;
}

/** Rebuilds dist/ when src/ changed since; a failed type-check still leaves what tsc emitted. */
function ensureDist(build: boolean): void {
  const entry = path.join(REPO_ROOT, 'dist/index.js');
  const stale = !existsSync(entry) || newestMtime(path.join(REPO_ROOT, 'src')) > statSync(entry).mtimeMs;
  if (build && stale) {
    log('src/ is newer than dist/: npm run build');
    const result = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8' });
    if (result.status !== 0) log(`npm run build failed (measuring what it emitted):\n${(result.stdout + result.stderr).trim().split('\n').slice(-8).join('\n')}`);
  } else if (stale) {
    log('warning: dist/ is older than src/ (--no-build)');
  }
  if (!existsSync(entry)) fail('dist/index.js is missing: run npm run build');
}

interface LoadChoice {
  name: 'wsload' | 'node';
  detail: string;
  /** Program and leading arguments; the mode and options follow. */
  command: string[];
  rawecho: string | null;
}

function chooseLoad(kind: CliOptions['load']): LoadChoice {
  const node: LoadChoice = {
    name: 'node',
    detail: '',
    command: [process.execPath, '--import', 'tsx', path.join(REPO_ROOT, 'bench/load/node-load.ts')],
    rawecho: null,
  };
  if (kind === 'node') return { ...node, detail: 'Node fallback (bench/load/node-load.ts, worker threads), as asked with --load node' };
  const outcome = buildWsload(log);
  if (outcome.ok) {
    return {
      name: 'wsload',
      detail: `wsload (C, epoll, one thread; built from ${path.relative(REPO_ROOT, WSLOAD_SOURCE_DIR)} into bench/.wsload-build/)`,
      command: [outcome.build.wsload],
      rawecho: outcome.build.rawecho,
    };
  }
  if (kind === 'wsload') fail(`wsload is unavailable: ${outcome.reason}`);
  const detail = `Node fallback (bench/load/node-load.ts, worker threads), because ${outcome.reason}; it saturates before fast servers do, so ratios are compressed`;
  log(`WARNING: ${detail}. Point TIDEWIRE_WSLOAD_SRC at wsload's sources for comparable figures.`);
  return { ...node, detail };
}

function choosePinning(): { server: string[]; load: string[]; text: string } {
  const hasTaskset = spawnSync('sh', ['-c', 'command -v taskset'], { stdio: 'ignore' }).status === 0;
  if (!hasTaskset) return { server: [], load: [], text: 'none (taskset is missing): server and load share the cores' };
  if (os.availableParallelism() < 2) return { server: [], load: [], text: 'none (one core): server and load share it' };
  return { server: ['taskset', '-c', '0'], load: ['taskset', '-c', '1'], text: 'server on core 0 (taskset -c 0), load generator on core 1 (taskset -c 1)' };
}

// ---- one run -----------------------------------------------------------------------------

const num = (line: LoadLine | null | undefined, key: string): number | undefined => {
  const value = line?.[key];
  return typeof value === 'number' ? value : undefined;
};

interface RunContext {
  scenario: Scenario;
  server: ServerId;
  round: number;
  settings: LoadSettings;
  load: LoadChoice;
  pin: ReturnType<typeof choosePinning>;
  /** file: URL of the snapshot's index.js, for the tidewire servers. */
  tidewireDist: string;
}

async function runOnce(ctx: RunContext): Promise<RunRecord> {
  const spec = serverSpec(ctx.scenario, ctx.server);
  const record: RunRecord = { scenario: ctx.scenario.name, server: ctx.server, round: ctx.round, metrics: {}, errors: 0, errorDetail: {}, serverCpuPct: null, otherCpuPct: null, note: null, load: null, extra: {} };
  const isNode = spec.program !== 'rawecho';
  const server = await startServer({
    program: isNode ? spec.program : ctx.load.rawecho!,
    args: ctx.scenario.serverArgs,
    pin: ctx.pin.server,
    isNode,
    env: { BENCH_TIDEWIRE_DIST: ctx.tidewireDist },
  });
  try {
    const mode = ctx.scenario.kind === 'echo' ? (spec.raw ? 'raw' : 'echo') : ctx.scenario.kind;
    let args = ctx.scenario.loadArgs(ctx.settings);
    if (spec.raw) args = args.filter((a) => a !== '-T' && a !== '-z');
    const argv = [...ctx.load.command, mode, ...args, '-p', String(server.port), '-P', String(server.pid), '-l', `${ctx.scenario.name}/${ctx.server}/${ctx.round}`];
    const warmup = ctx.scenario.warmupArgs?.(ctx.settings) ?? null;
    if (warmup !== null) {
      const warm = await runLoad([...ctx.load.command, mode, ...warmup, '-p', String(server.port), '-l', 'warm-up'], { pin: ctx.pin.load, timeoutMs: 120_000 });
      if (warm.result === null || warm.result['error'] !== undefined) record.note = `warm-up failed: ${JSON.stringify(warm.result)}`;
    }
    const baseline = ctx.scenario.kind === 'idle' ? await server.memory() : null;
    const seen: { whileOpen: MemoryUsage | null; open: number } = { whileOpen: null, open: 0 };
    const timeoutMs = (ctx.settings.warmupS + ctx.settings.durationS + 180) * 1000;
    const run = await runLoad(argv, {
      pin: ctx.pin.load,
      timeoutMs,
      onLine: async (line) => {
        if (line['event'] !== 'all_open') return;
        seen.open = num(line, 'open') ?? 0;
        await new Promise((resolve) => setTimeout(resolve, 1000)); // let the last handshakes' garbage die
        seen.whileOpen = await server.memory();
      },
    });
    record.load = run.result;
    const result = run.result;
    record.serverCpuPct = num(result, 'server_cpu_pct') ?? null;
    record.otherCpuPct = num(result, 'other_pct') ?? null;
    countErrors(record, result, ctx.scenario);
    if (ctx.scenario.kind === 'idle') {
      const allOpen = run.lines.find((l) => l['event'] === 'all_open');
      const handshakes = num(allOpen, 'handshakes_per_s');
      if (handshakes !== undefined) record.metrics['handshakes_per_s'] = handshakes;
      const open = seen.whileOpen;
      const openCount = seen.open;
      if (baseline !== null && open !== null && openCount > 0) {
        record.metrics['rss_per_conn'] = (open.rss - baseline.rss) / openCount;
        record.metrics['heap_per_conn'] = (open.heapUsed - baseline.heapUsed) / openCount;
        record.extra = { baseline, whileOpen: open, open: openCount, external_per_conn: (open.external - baseline.external) / openCount };
      }
      record.otherCpuPct = num(allOpen, 'other_pct') ?? null;
    } else if (result !== null && result['error'] === undefined) {
      for (const metric of ctx.scenario.metrics) {
        const value = num(result, metric.key);
        if (value !== undefined && value > 0) record.metrics[metric.key] = value;
      }
    }
    const problems = [server.exitedEarly(), result?.['error'] ? `load generator: ${String(result['error'])}` : null, run.result === null ? `no result from the load generator (exit ${run.exitCode}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}` : null].filter(Boolean);
    if (server.exitedEarly() !== null) record.errors++;
    if (problems.length > 0) record.note = problems.join('; ') + (server.exitedEarly() ? ` [server stderr: ${server.stderrTail().trim().split('\n').slice(-3).join(' | ')}]` : '');
  } finally {
    await server.stop();
  }
  return record;
}

function countErrors(record: RunRecord, result: LoadLine | null, scenario: Scenario): void {
  const keys = ['verify_failures', 'protocol_errors', 'conn_errors', 'connect_failures', 'failed', 'closed_during_hold'];
  for (const key of keys) {
    const value = num(result, key);
    if (value !== undefined && value > 0) record.errorDetail[key] = value;
  }
  if (scenario.kind === 'fanout' && result !== null) {
    const missing = (num(result, 'expected') ?? 0) - (num(result, 'deliveries') ?? 0);
    if (missing > 0) record.errorDetail['undelivered'] = missing;
  }
  if (result === null || result['error'] !== undefined) record.errorDetail['run_failed'] = 1;
  record.errors = Object.values(record.errorDetail).reduce((sum, n) => sum + n, 0);
}

// ---- the suite ---------------------------------------------------------------------------

function gitInfo(): SuiteInfo['git'] {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).stdout ?? '';
  const dirty = git('status', '--porcelain', '--untracked-files=all', '--', 'src').split('\n').filter(Boolean).map((line) => line.slice(3));
  // Grouped by directory: "src/realtime/ (30 files)".
  const groups = new Map<string, number>();
  for (const file of dirty) groups.set(path.dirname(file), (groups.get(path.dirname(file)) ?? 0) + 1);
  const dirtySrc = [...groups].sort().map(([dir, n]) => (n === 1 ? dirty.find((f) => path.dirname(f) === dir)! : `${dir}/ (${n} files)`));
  return { commit: git('rev-parse', 'HEAD').trim() || 'unknown', dirtySrc };
}

function wsVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules/ws/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function timestampForFile(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replaceAll(':', '-');
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killChildren(); // servers and load generators must not outlive an interrupted suite
      process.exit(130);
    });
  }
  const started = new Date();
  const loadAvgAtStart = os.loadavg();
  const git = gitInfo(); // what dist/ is built from: the tree as the suite starts
  ensureDist(cli.build);
  const load = chooseLoad(cli.load);
  const pin = choosePinning();
  log(`load generator: ${load.detail}`);
  log(`pinning: ${pin.text}`);

  const runs: RunRecord[] = [];
  const fingerprint = distFingerprint();
  const snapshot = snapshotDist();
  for (const scenario of cli.scenarios) {
    const servers = scenario.servers.filter((id) => (cli.servers === null || cli.servers.includes(id)) && (id !== 'c-raw' || load.rawecho !== null));
    for (let round = 1; round <= cli.runs; round++) {
      for (const server of servers) {
        const t0 = Date.now();
        let record: RunRecord;
        try {
          record = await runOnce({ scenario, server, round, settings: cli.settings, load, pin, tidewireDist: snapshot.url });
        } catch (error) {
          record = { scenario: scenario.name, server, round, metrics: {}, errors: 1, errorDetail: { run_failed: 1 }, serverCpuPct: null, otherCpuPct: null, note: error instanceof Error ? error.message : String(error), load: null, extra: {} };
        }
        runs.push(record);
        const shown = Object.entries(record.metrics).map(([k, v]) => `${k}=${Math.round(v)}`).join(' ') || 'no result';
        log(`${scenario.name} run ${round}/${cli.runs} ${server}: ${shown}${record.errors ? ` errors=${JSON.stringify(record.errorDetail)}` : ''}${record.note ? ` (${record.note})` : ''} [${((Date.now() - t0) / 1000).toFixed(1)} s]`);
      }
    }
  }

  if (distFingerprint() !== fingerprint) log('dist/ was rebuilt during the suite; the tidewire servers used the snapshot taken at the start');
  const elapsedS = (Date.now() - started.getTime()) / 1000;
  const info: SuiteInfo = {
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`,
    date: started.toISOString(),
    elapsedS,
    machine: { nproc: os.availableParallelism(), cpu: os.cpus()[0]?.model ?? 'unknown', node: process.version, kernel: os.release(), ws: wsVersion(), loadAvgAtStart },
    loadGenerator: { name: load.name, detail: load.detail },
    pinning: pin.text,
    git,
    settings: { runs: cli.runs, durationS: cli.settings.durationS, warmupS: cli.settings.warmupS, smoke: cli.settings.smoke },
  };
  const result = summarize(info, runs, cli.scenarios.map((s) => s.name));
  const jsonFile = cli.jsonFile ?? path.join(REPO_ROOT, 'bench/results', `${timestampForFile(started)}${cli.settings.smoke ? '-smoke' : ''}.json`);
  writeJson(result, jsonFile);
  process.stdout.write(`\n${consoleReport(result)}\n\nJSON: ${jsonFile}\n`);
  if (cli.docs) {
    const shownJson = jsonFile.startsWith(`${REPO_ROOT}${path.sep}`) ? path.relative(REPO_ROOT, jsonFile) : jsonFile;
    writeDocs(result, path.join(REPO_ROOT, 'docs/BENCHMARKS.md'), shownJson);
    process.stdout.write('docs/BENCHMARKS.md: results section rewritten\n');
  }
  log(`done in ${formatDuration(elapsedS)}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
