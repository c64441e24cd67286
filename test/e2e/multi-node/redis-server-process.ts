// A private redis-server for the test that restarts Redis (the machine's shared Redis must not be
// touched): no persistence, so a restart comes back empty, like a crashed cache node.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { watchOutput, type ChildOutput } from '../../helpers/child-output.js';
import { unusedPort } from '../../helpers/free-port.js';
import { withTimeout } from '../../helpers/with-timeout.js';
import { redisPing } from './redis-keys.js';

export const REDIS_SERVER_BINARY = process.env.REDIS_SERVER_BINARY ?? 'redis-server';

export interface RedisServerProcess {
  readonly url: string;
  /** SIGKILL: everything it held is gone. */
  kill(): Promise<void>;
  /** Starts it again, empty, on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Is redis-server installed? */
export function redisServerAvailable(): boolean {
  return spawnSync(REDIS_SERVER_BINARY, ['--version'], { stdio: 'ignore' }).status === 0;
}

export async function startRedisServer(): Promise<RedisServerProcess> {
  const port = await unusedPort('127.0.0.1');
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let output: ChildOutput | null = null;
  const start = async (): Promise<void> => {
    child = spawn(REDIS_SERVER_BINARY, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    output = watchOutput(child);
    await withTimeout(output.printed(/Ready to accept connections/), 10_000, `redis-server on ${port} to start`);
    while (!(await redisPing(url))) await delay(20);
  };
  const kill = async (): Promise<void> => {
    const running = child;
    child = null;
    if (running === null || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url,
    kill,
    async restart() {
      await kill();
      await start();
    },
    stop: kill,
  };
}
