// Fans values out to listeners outside the emitter's stack: each emit() queues one microtask that
// calls the listeners registered at that moment, in registration order. Microtasks run first in,
// first out, so every listener sees emits in emit order, also when a listener emits again from
// inside its callback. A listener that throws is reported and does not stop the others.

interface ListenerEntry<T> {
  readonly listener: (value: T) => void;
  active: boolean;
}

export class ListenerSet<T> {
  private readonly entries = new Set<ListenerEntry<T>>();
  /** The entries as an array, rebuilt after a change: emit() to many listeners copies nothing. */
  private snapshot: ListenerEntry<T>[] | undefined;

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  get size(): number {
    return this.entries.size;
  }

  /** Registers `listener` for later emits; the returned function removes it (queued emits included). */
  add(listener: (value: T) => void): () => void {
    const entry: ListenerEntry<T> = { listener, active: true };
    this.entries.add(entry);
    this.snapshot = undefined;
    return () => {
      if (!entry.active) return;
      entry.active = false;
      this.entries.delete(entry);
      this.snapshot = undefined;
    };
  }

  emit(value: T): void {
    if (this.entries.size === 0) return;
    const targets = (this.snapshot ??= [...this.entries]);
    queueMicrotask(() => {
      for (const entry of targets) {
        if (!entry.active) continue;
        try {
          entry.listener(value);
        } catch (error) {
          this.report(error);
        }
      }
    });
  }

  /** Removes every listener; emits already queued reach nobody. */
  clear(): void {
    for (const entry of this.entries) entry.active = false;
    this.entries.clear();
    this.snapshot = undefined;
  }

  private report(error: unknown): void {
    try {
      this.onListenerError(error);
    } catch {
      // The error reporter failed too: nothing sensible is left to do with the error.
    }
  }
}
