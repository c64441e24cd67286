// A server under test as a child process pinned to its core: started, asked for its memory over
// the IPC channel (bench/servers/harness-link.mjs answers), and stopped; a crash is noticed.

import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT, trackChild } from './load/wsload.js';

export interface MemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export interface ServerProcess {
  pid: number;
  port: number;
  /** process.memoryUsage() after a full GC; null for servers without the IPC channel (C raw). */
  memory(): Promise<MemoryUsage | null>;
  /** Set when the process ended before stop() was called. */
  exitedEarly(): string | null;
  stderrTail(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** A file under bench/servers/, or an absolute path to the rawecho binary. */
  program: string;
  args: string[];
  pin: string[];
  isNode: boolean;
  /** Extra environment (BENCH_TIDEWIRE_DIST: the snapshot of dist/ the tidewire servers import). */
  env?: Record<string, string>;
}

const START_TIMEOUT_MS = 15_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export async function startServer(options: StartOptions): Promise<ServerProcess> {
  let child: ChildProcess;
  let port: number;
  if (options.isNode) {
    const file = path.join(REPO_ROOT, 'bench/servers', options.program);
    const [program, ...args] = [...options.pin, process.execPath, '--expose-gc', file, ...options.args];
    child = spawn(program!, args, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, ...options.env } });
  } else {
    port = await freePort();
    const [program, ...args] = [...options.pin, options.program, '-p', String(port), '-a', '127.0.0.1'];
    child = spawn(program!, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  trackChild(child);
  let stderr = '';
  let exit: string | null = null;
  let stopping = false;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    stderr = (stderr + text).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      if (!stopping) exit = `server exited early (code ${code}, signal ${signal})`;
      resolve();
    });
  });

  port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.program} did not start within ${START_TIMEOUT_MS} ms: ${stderr}`)), START_TIMEOUT_MS);
    void exited.then(() => reject(new Error(`${options.program} exited while starting: ${stderr}`)));
    if (options.isNode) {
      child.on('message', (message: { type?: string; port?: number }) => {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        resolve(message.port!);
      });
    } else {
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (text: string) => {
        if (!text.includes('listening')) return;
        clearTimeout(timer);
        resolve(port);
      });
    }
  });

  let nextId = 0;
  return {
    pid: child.pid!,
    port,
    memory: () => {
      if (!options.isNode || exit !== null) return Promise.resolve(null);
      const id = nextId++;
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(null), 10_000);
        const onMessage = (message: { type?: string; id?: number } & MemoryUsage) => {
          if (message.type !== 'memory' || message.id !== id) return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve({ rss: message.rss, heapTotal: message.heapTotal, heapUsed: message.heapUsed, external: message.external, arrayBuffers: message.arrayBuffers });
        };
        child.on('message', onMessage);
        child.send({ type: 'memory', id });
      });
    },
    exitedEarly: () => exit,
    stderrTail: () => stderr,
    stop: async () => {
      if (exit !== null) return;
      stopping = true;
      if (options.isNode && child.connected) child.send({ type: 'exit' });
      else child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
