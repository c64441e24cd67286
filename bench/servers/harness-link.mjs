// The few lines every benchmark server shares: tell the harness which port it listens on, and
// answer its memory questions (process.memoryUsage() after a full GC when --expose-gc is on).
// Run by hand (no IPC channel), a server prints its port on stdout instead.

/** Reports the listening port, then serves { type: 'memory' } requests until the harness ends us. */
export function reportReady(port) {
  if (typeof process.send !== 'function') {
    process.stdout.write(`listening on 127.0.0.1:${port}\n`);
    return;
  }
  process.on('message', (message) => {
    if (message?.type === 'memory') {
      if (typeof globalThis.gc === 'function') {
        globalThis.gc();
        globalThis.gc();
      }
      process.send({ type: 'memory', id: message.id, ...process.memoryUsage() });
    } else if (message?.type === 'exit') {
      process.exit(0);
    }
  });
  // The harness going away (crash, Ctrl-C) must not leave a server behind.
  process.on('disconnect', () => process.exit(0));
  process.send({ type: 'ready', port });
}

/** Large enough for the 1 MiB scenario on both servers (tidewire's default is 1 MiB, ws's 100 MiB). */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

export function hasFlag(name) {
  return process.argv.includes(name);
}

export function ignore() {}
