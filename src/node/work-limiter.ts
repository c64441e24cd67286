// Bounds how many zlib jobs run at once across the process, so compression cannot take every
// thread-pool worker or pile up memory. Jobs wait in FIFO order; each connection has at most one
// inflate and one deflate job waiting at a time, so the queue is bounded by the connection count.

export type Job = (release: () => void) => void;

export class WorkLimiter {
  private running = 0;
  private readonly waiting: Job[] = [];

  constructor(private readonly maxConcurrent: number) {}

  run(job: Job): void {
    if (this.running < this.maxConcurrent) this.start(job);
    else this.waiting.push(job);
  }

  private start(job: Job): void {
    this.running++;
    let released = false;
    job(() => {
      if (released) return;
      released = true;
      this.running--;
      const next = this.waiting.shift();
      if (next !== undefined) this.start(next);
    });
  }
}

/** Shared by every connection of the process: about the size of libuv's thread pool. */
export const zlibLimiter = new WorkLimiter(10);
