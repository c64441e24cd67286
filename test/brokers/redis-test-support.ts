// What the RedisBroker tests need from the shared Redis: whether it answers, an admin connection,
// key cleanup by prefix (SCAN + DEL, never FLUSHDB: other test files use the same Redis), and
// killing one broker's connections by client name (never by type: that would hit other tests),
// and a private redis-server to restart for real.

import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { keyPattern } from '../../src/brokers/redis/redis-keys.js';
import { watchOutput } from '../helpers/child-output.js';
import { DEFAULT_TIMEOUT_MS, withTimeout } from '../helpers/with-timeout.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other run uses. */
export function uniquePrefix(label: string): string {
  return `tidewire-test:${label}:${randomUUID().slice(0, 8)}:`;
}

export async function redisAnswers(url = REDIS_URL): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

export function adminClient(url = REDIS_URL): Redis {
  const admin = new Redis(url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
  return admin;
}

/** Deletes every key under `prefix`; resolves with how many there were. */
export async function deleteKeys(admin: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', keyPattern(prefix), 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await admin.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** Every key under `prefix`. */
export async function keysUnder(admin: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', keyPattern(prefix), 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

/** Kills the connections named `name` (CLIENT SETNAME); resolves with how many. */
export async function killClientsNamed(admin: Redis, name: string): Promise<number> {
  const list = (await admin.client('LIST')) as string;
  const ids = list
    .split('\n')
    .map((line) => Object.fromEntries(line.split(' ').map((field) => field.split('=', 2) as [string, string])))
    .filter((fields) => fields.name === name)
    .map((fields) => fields.id as string);
  for (const id of ids) await admin.client('KILL', 'ID', id);
  return ids.length;
}

/** A private redis-server without persistence on `port`, for a real restart; stop() kills it (SIGKILL). */
export async function startRedisServer(port: number): Promise<{ stop(): Promise<void> }> {
  const child = spawn(process.env.REDIS_SERVER ?? 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = watchOutput(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await withTimeout(Promise.race([output.printed(/Ready to accept connections/), exited.then(() => {
    throw new Error(`redis-server exited: ${output.stdout()}${output.stderr()}`);
  })]), DEFAULT_TIMEOUT_MS, 'redis-server to start');
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Whether `redis-server` can be started. */
export function redisServerInstalled(): boolean {
  return spawnSync(process.env.REDIS_SERVER ?? 'redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
}
