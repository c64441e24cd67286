// Several `tidewire serve` nodes sharing one Redis, with a real nginx in front: what
// docs/deploy.md tells you to run, started from a temporary directory and torn down afterwards.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNginx, type NginxProcess } from './nginx-process.js';
import { startServeProcess, type ServeProcess } from './serve-process.js';

export interface ServeCluster {
  readonly nodes: readonly ServeProcess[];
  readonly nginx: NginxProcess;
  /** The messaging layer through nginx: ws://127.0.0.1:<nginx port>/realtime. */
  readonly url: string;
  /** Each node's log lines (stderr), for a failure message. */
  logs(): string;
  close(): Promise<void>;
}

export interface ServeClusterOptions {
  nodes: number;
  redisUrl: string;
  keyPrefix: string;
  /** More `serve` arguments for every node. */
  args?: readonly string[];
}

export async function startServeCluster(options: ServeClusterOptions): Promise<ServeCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'tidewire-multi-node-'));
  const nodes: ServeProcess[] = [];
  let nginx: NginxProcess | undefined;
  const close = async (): Promise<void> => {
    await nginx?.stop();
    await Promise.all(nodes.map((node) => node.kill('SIGTERM').catch(() => node.kill('SIGKILL'))));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const args = ['--redis', options.redisUrl, '--key-prefix', options.keyPrefix, ...(options.args ?? [])];
    // One at a time: tsx start-up is CPU-bound, and parallel starts only race for the same cores.
    for (let index = 0; index < options.nodes; index += 1) nodes.push(await startServeProcess(`node-${index + 1}`, args));
    nginx = await startNginx(nodes.map((node) => node.port), dir);
  } catch (error) {
    await close();
    throw error;
  }
  const started = nginx;
  return {
    nodes,
    nginx: started,
    url: `ws://127.0.0.1:${started.port}/realtime`,
    logs: () => nodes.map((node) => `--- ${node.nodeId}\n${node.output.stderr()}`).join('\n') + `\n--- nginx\n${started.errorLog()}`,
    close,
  };
}
