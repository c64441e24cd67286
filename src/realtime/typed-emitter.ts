// A minimal typed event emitter for the client's public objects (RealtimeClient, ClientSubscription).
// No node:events: the client bundles for browsers. A throwing listener does not stop the others or
// the client; its error is rethrown on a microtask, as EventTarget reports listener errors.

type Listener = (...args: unknown[]) => void;

export class TypedEmitter<Events extends { [K in keyof Events]: unknown[] }> {
  private readonly listeners = new Map<keyof Events, Set<Listener>>();

  /** Adds a listener; returns `this` for chaining. */
  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener as unknown as Listener);
    return this;
  }

  /** Removes a listener added with on(). */
  off<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): this {
    this.listeners.get(event)?.delete(listener as unknown as Listener);
    return this;
  }

  /** Calls every listener of `event` in the order they were added. */
  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
