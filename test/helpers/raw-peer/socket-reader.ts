// Reading a TCP socket on the test's terms: the bytes not yet consumed, and waits for more (or for
// the end) with a deadline.

import type net from 'node:net';

/** The bytes a socket delivered and not yet consumed, with a way to wait for more. */
export class SocketReader {
  private chunks: Buffer[] = [];
  length = 0;
  /** The peer sent FIN, or the socket closed or failed. */
  ended = false;
  closed = false;
  error: Error | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
      this.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('error', (error: Error) => {
      // ECONNRESET and EPIPE are how a peer that fails the connection often looks.
      this.error = error;
      this.ended = true;
      this.notify();
    });
    socket.on('close', () => {
      this.ended = true;
      this.closed = true;
      this.notify();
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** The first `n` buffered bytes without consuming them (n <= length). */
  peek(n: number): Buffer {
    if (this.chunks.length > 0 && this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    const out = Buffer.alloc(n);
    let filled = 0;
    for (const chunk of this.chunks) {
      if (filled >= n) break;
      filled += chunk.copy(out, filled, 0, Math.min(chunk.length, n - filled));
    }
    return out;
  }

  take(n: number): Buffer {
    const out = this.peek(n);
    let left = n;
    while (left > 0) {
      const first = this.chunks[0]!;
      if (first.length <= left) {
        this.chunks.shift();
        left -= first.length;
      } else {
        this.chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.length -= n;
    return out;
  }

  takeAll(): Buffer {
    return this.take(this.length);
  }

  /** Resolves once `ready()` returns a value; rejects on timeout, or when the socket ends first. */
  waitFor<T>(ready: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        let value: T | undefined;
        try {
          value = ready();
        } catch (error) {
          done();
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (this.ended) {
          done();
          const buffered = this.length > 0 ? ` (${this.length} bytes left: ${this.peek(Math.min(this.length, 40)).toString('hex')})` : '';
          reject(new Error(`connection closed while waiting for ${what}${buffered}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves when the socket ends (FIN, reset or close); rejects on timeout. */
  waitForEnd(timeoutMs: number): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!this.ended) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for the TCP connection to close`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** Reads an HTTP head up to and including the blank line. */
  async readHead(timeoutMs: number, maxBytes = 256 * 1024): Promise<string> {
    const end = await this.waitFor(
      () => {
        const seen = this.peek(Math.min(this.length, maxBytes));
        const at = seen.indexOf('\r\n\r\n');
        if (at >= 0) return at + 4;
        if (this.length > maxBytes) throw new Error(`no end of HTTP head within ${maxBytes} bytes`);
        return undefined;
      },
      timeoutMs,
      'an HTTP head',
    );
    return this.take(end).toString('latin1');
  }
}
