// The load generators as child processes: builds wsload (C, ../shared/tools/wsload) into a scratch
// directory when make and gcc are there, and runs either it or the Node fallback with the same
// wsload-style arguments, collecting the JSON lines they print.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '../..');
/** wsload's sources (read-only: we only copy from there). */
/** wsload's sources: $TIDEWIRE_WSLOAD_SRC, or the tools folder beside this checkout (../shared/tools/wsload). */
export const WSLOAD_SOURCE_DIR = path.resolve(process.env.TIDEWIRE_WSLOAD_SRC ?? path.join(REPO_ROOT, '../shared/tools/wsload'));
/** Where wsload and rawecho are built (gitignored). */
export const WSLOAD_BUILD_DIR = path.join(REPO_ROOT, 'bench/.wsload-build');
const SOURCES = ['Makefile', 'wsload.c', 'rawecho.c'];

/** Every child the harness started and that still runs: killed if the harness is interrupted. */
const children = new Set<ChildProcess>();

export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}

export interface WsloadBuild {
  wsload: string;
  /** The C raw echo server (the machine's limit), built beside wsload. */
  rawecho: string | null;
}

export type BuildOutcome = { ok: true; build: WsloadBuild } | { ok: false; reason: string };

function commandExists(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function isNewer(a: string, b: string): boolean {
  return statSync(a).mtimeMs > statSync(b).mtimeMs;
}

/** Builds (or reuses) wsload and rawecho in bench/.wsload-build; says why when it cannot. */
export function buildWsload(log: (line: string) => void): BuildOutcome {
  if (!existsSync(path.join(WSLOAD_SOURCE_DIR, 'wsload.c'))) return { ok: false, reason: `no wsload sources in ${WSLOAD_SOURCE_DIR}` };
  const wsload = path.join(WSLOAD_BUILD_DIR, 'wsload');
  const rawecho = path.join(WSLOAD_BUILD_DIR, 'rawecho');
  const stale =
    !existsSync(wsload) ||
    !existsSync(rawecho) ||
    SOURCES.some((name) => isNewer(path.join(WSLOAD_SOURCE_DIR, name), path.join(WSLOAD_BUILD_DIR, name)));
  if (stale) {
    if (!commandExists('make') || !commandExists('gcc')) return { ok: false, reason: 'make or gcc is missing, so wsload cannot be built' };
    mkdirSync(WSLOAD_BUILD_DIR, { recursive: true });
    for (const name of SOURCES) copyFileSync(path.join(WSLOAD_SOURCE_DIR, name), path.join(WSLOAD_BUILD_DIR, name));
    log(`building wsload in ${path.relative(REPO_ROOT, WSLOAD_BUILD_DIR)}/`);
    const make = spawnSync('make', ['-s', '-C', WSLOAD_BUILD_DIR, 'all'], { encoding: 'utf8' });
    if (make.status !== 0) return { ok: false, reason: `make failed: ${(make.stderr || make.stdout).trim().split('\n').slice(-3).join(' | ')}` };
  }
  const selftest = spawnSync(wsload, ['selftest'], { encoding: 'utf8' });
  if (selftest.status !== 0) return { ok: false, reason: `wsload selftest failed: ${selftest.stdout.trim()}` };
  return { ok: true, build: { wsload, rawecho: existsSync(rawecho) ? rawecho : null } };
}

/** A parsed JSON line of a load generator (the field names of wsload's output). */
export type LoadLine = Record<string, unknown>;

export interface LoadRun {
  /** Every JSON line, in order. The last one without "event" is the result. */
  lines: LoadLine[];
  result: LoadLine | null;
  exitCode: number | null;
  stderr: string;
}

export interface RunLoadOptions {
  /** Command prefix that pins the process (e.g. ['taskset', '-c', '1']), or []. */
  pin: string[];
  /** Called with each JSON line as it arrives (idle: "all_open" is the moment to read the server's memory). */
  onLine?: (line: LoadLine) => void | Promise<void>;
  /** Kill the load generator after this long (a wedged server must not hang the suite). */
  timeoutMs: number;
}

/** Runs a load generator (argv[0] is the program) and collects its JSON lines. */
export function runLoad(argv: string[], options: RunLoadOptions): Promise<LoadRun> {
  return new Promise((resolve) => {
    const [program, ...args] = [...options.pin, ...argv];
    const child = spawn(program!, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    const lines: LoadLine[] = [];
    let stdoutTail = '';
    let stderr = '';
    let pendingCallbacks: Promise<void> = Promise.resolve();
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      stdoutTail += text;
      let nl: number;
      while ((nl = stdoutTail.indexOf('\n')) >= 0) {
        const text = stdoutTail.slice(0, nl).trim();
        stdoutTail = stdoutTail.slice(nl + 1);
        if (!text.startsWith('{')) continue;
        try {
          const line = JSON.parse(text) as LoadLine;
          lines.push(line);
          if (options.onLine) pendingCallbacks = pendingCallbacks.then(() => options.onLine!(line));
        } catch {
          stderr += `unparsable output line: ${text}\n`;
        }
      }
    });
    child.stderr.on('data', (text: string) => {
      if (stderr.length < 64 * 1024) stderr += text;
    });
    const timer = setTimeout(() => {
      stderr += `\nkilled after ${options.timeoutMs} ms\n`;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (error) => {
      stderr += `${error.message}\n`;
    });
    child.on('close', async (code) => {
      clearTimeout(timer);
      await pendingCallbacks.catch((error: unknown) => {
        stderr += `${String(error)}\n`;
      });
      const result = [...lines].reverse().find((line) => line['event'] === undefined) ?? null;
      resolve({ lines, result, exitCode: code, stderr });
    });
  });
}
