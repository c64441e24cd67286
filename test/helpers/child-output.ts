// Watching what a child process prints: everything so far on stdout and stderr, and a wait for the
// output to match a pattern. The wait has no deadline of its own: wrap it in withTimeout().

import type { ChildProcess } from 'node:child_process';

export type OutputStream = 'stdout' | 'stderr';

export interface ChildOutput {
  stdout(): string;
  stderr(): string;
  /** Resolves with the match once what `stream` printed so far matches `pattern` (at once if it already does). */
  printed(pattern: RegExp, stream?: OutputStream): Promise<RegExpExecArray>;
}

/** Collects the child's piped stdout and stderr from now on. */
export function watchOutput(child: ChildProcess): ChildOutput {
  const output = { stdout: '', stderr: '' };
  const watchers = new Set<() => void>();
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]?.setEncoding('utf8').on('data', (chunk: string) => {
      output[stream] += chunk;
      for (const watcher of watchers) watcher();
    });
  }
  return {
    stdout: () => output.stdout,
    stderr: () => output.stderr,
    printed(pattern, stream = 'stdout') {
      return new Promise((resolve) => {
        const check = (): void => {
          const match = pattern.exec(output[stream]);
          if (match === null) return;
          watchers.delete(check);
          resolve(match);
        };
        watchers.add(check);
        check();
      });
    },
  };
}
