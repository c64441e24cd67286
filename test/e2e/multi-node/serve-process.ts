// A `tidewire serve` node as a real child process (through tsx, from the repository root): started
// on a free port, its output watched, its /healthz read, killed with any signal.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cliArgs, REPO_ROOT } from '../../helpers/cli-process.js';
import { watchOutput, type ChildOutput } from '../../helpers/child-output.js';
import { unusedPort } from '../../helpers/free-port.js';
import { withTimeout } from '../../helpers/with-timeout.js';

/** tsx compiles on start: a node needs a few seconds on a busy machine. */
const START_TIMEOUT_MS = 20_000;

export interface ServeProcess {
  readonly nodeId: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly output: ChildOutput;
  /** The /healthz answer: status and body. */
  health(): Promise<{ status: number; body: string }>;
  /** Sessions open now, from /healthz. */
  sessions(): Promise<number>;
  /** Sends `signal` and waits for the exit (SIGKILL: no goodbye at all). */
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `tidewire serve --port <free> --node-id <nodeId> <args…>` and waits for its ready line. */
export async function startServeProcess(nodeId: string, args: readonly string[]): Promise<ServeProcess> {
  const port = await unusedPort('127.0.0.1');
  const child = spawn(process.execPath, cliArgs('serve', '--port', String(port), '--node-id', nodeId, ...args), {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = watchOutput(child);
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const ready = output.printed(new RegExp(`tidewire serve listening on \\S+ \\(broker: \\w+, node: ${nodeId}\\)`));
  const early = exited.then(([code, signal]) => {
    throw new Error(`serve ${nodeId} exited (${code ?? signal}) before it listened:\n${output.stderr()}`);
  });
  await withTimeout(Promise.race([ready, early]), START_TIMEOUT_MS, `serve ${nodeId} to listen`);
  early.catch(() => {}); // its later exit is not an error
  const health = async (): Promise<{ status: number; body: string }> => {
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    return { status: response.status, body: await response.text() };
  };
  return {
    nodeId,
    port,
    child,
    output,
    health,
    async sessions() {
      const { body } = await health();
      const match = /sessions=(\d+)/.exec(body);
      if (match === null) throw new Error(`unexpected /healthz body from ${nodeId}: ${body}`);
      return Number(match[1]);
    },
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const [code, exitSignal] = await withTimeout(exited, 10_000, `serve ${nodeId} to exit after ${signal}`);
      return { code, signal: exitSignal };
    },
  };
}
