// Graceful stop for the long-running commands (echo, demo) on SIGINT/SIGTERM: close the
// server (every connection gets 1001), then let the event loop drain so queued close frames
// are flushed before the process ends, instead of calling process.exit() over them.

/** After close() resolves, how long leftover handles may keep the process alive before we force the exit. */
const DRAIN_GRACE_MS = 2_000;

/**
 * Installs SIGINT/SIGTERM handlers that call `close()` once. A second signal exits at once
 * with 130, for the impatient operator pressing Ctrl-C twice.
 */
export function shutdownOnSignal(close: () => Promise<void>, log: (line: string) => void): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      process.exit(130);
    }
    closing = true;
    log(`${signal} received, closing`);
    close().then(
      () => {
        process.exitCode = 0;
        // unref: a clean shutdown exits as soon as the loop is empty; the timer only catches a leak.
        setTimeout(() => {
          log('closed, but handles are still open; forcing exit');
          process.exit(0);
        }, DRAIN_GRACE_MS).unref();
      },
      (error: unknown) => {
        log(`close failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
