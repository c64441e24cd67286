// `tidewire serve --auth-module <file>`: an operator's own hooks, loaded from an ES module that
// exports any of `authenticate(req, token)`, `canSubscribe(session, channel)` and
// `canPublish(session, channel, data)` (the RealtimeServer hooks, docs/api-contract.md).
// The only import() of src/ with a computed specifier: test/architecture.test.ts allows this file.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RealtimeServerOptions } from '../index.js';

export type ServeHooks = Pick<RealtimeServerOptions, 'authenticate' | 'canSubscribe' | 'canPublish'>;

const HOOK_NAMES = ['authenticate', 'canSubscribe', 'canPublish'] as const;

/** Loads the hooks of `file` (relative to the working directory); throws naming the file on a bad module. */
export async function loadServeHooks(file: string): Promise<ServeHooks> {
  const url = pathToFileURL(resolve(file)).href;
  let exported: Record<string, unknown>;
  try {
    exported = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`--auth-module ${file} could not be loaded: ${error instanceof Error ? error.message : String(error)}`);
  }
  const hooks: Record<string, unknown> = {};
  for (const name of HOOK_NAMES) {
    const hook = exported[name];
    if (hook === undefined) continue;
    if (typeof hook !== 'function') throw new Error(`--auth-module ${file}: export "${name}" is a ${typeof hook}, not a function`);
    hooks[name] = hook;
  }
  if (Object.keys(hooks).length === 0) throw new Error(`--auth-module ${file} exports none of ${HOOK_NAMES.join(', ')}`);
  return hooks as ServeHooks;
}
