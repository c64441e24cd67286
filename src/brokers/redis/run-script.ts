// Runs a LuaScript by its SHA-1 and falls back to sending the source when Redis does not know it
// (first use, SCRIPT FLUSH, a Redis restart). Replies come as Buffers: payloads are binary.

import type { Redis } from 'ioredis';
import type { LuaScript } from './lua-scripts.js';

export type ScriptArgument = string | Buffer | number;

export async function runScript(client: Redis, script: LuaScript, keys: readonly string[], args: readonly ScriptArgument[]): Promise<unknown> {
  if (keys.length !== script.keyCount) throw new RangeError(`script ${script.name} takes ${script.keyCount} keys, got ${keys.length}`);
  const rest = [script.keyCount, ...keys, ...args];
  try {
    return await client.callBuffer('EVALSHA', [script.sha, ...rest]);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return await client.callBuffer('EVAL', [script.source, ...rest]);
  }
}
