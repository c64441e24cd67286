// A small bounded FIFO that interop tests await on: incoming messages, accepted connections,
// lines a child process printed. A wait that outlives its timeout fails with a label saying
// what never came, rather than hanging until the test runner's timeout.

export class AsyncQueue<T> {
  readonly #items: T[] = [];
  readonly #waiters: ((item: T) => void)[] = [];

  constructor(
    readonly label: string,
    /** Bound: a test that lets this many items pile up unread is broken; overflow throws. */
    readonly maxItems = 10_000,
  ) {}

  push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter(item);
      return;
    }
    if (this.#items.length >= this.maxItems) {
      throw new Error(`${this.label}: more than ${this.maxItems} unread items`);
    }
    this.#items.push(item);
  }

  /** The next item, in arrival order; rejects after `timeoutMs`. */
  next(timeoutMs = 10_000): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift() as T);
    return new Promise<T>((resolve, reject) => {
      const waiter = (item: T): void => {
        clearTimeout(timer);
        resolve(item);
      };
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(new Error(`${this.label}: nothing arrived within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.#waiters.push(waiter);
    });
  }

  /** Items received and not yet taken. */
  get size(): number {
    return this.#items.length;
  }
}
