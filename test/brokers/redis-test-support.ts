// What the RedisBroker tests need from the shared Redis: whether it answers, an admin connection,
// key cleanup by prefix (SCAN + DEL, never FLUSHDB: other test files use the same Redis), and
// killing one broker's connections by client name (never by type: that would hit other tests).

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { keyPattern } from '../../src/brokers/redis/redis-keys.js';

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
