// Running the tidewire CLI as a real child process, through tsx (no build needed), from the
// repository root.

import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** The arguments for `node` that run `tidewire <args…>`. */
export function cliArgs(...args: string[]): string[] {
  return ['--import', 'tsx', CLI_MAIN, ...args];
}
