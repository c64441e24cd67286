// One ioredis connection as RedisBroker uses it: fail fast. A call made within readyTimeoutMs of
// the start waits for the first connection; any other call while it is down rejects at once with
// BrokerError instead of queueing, so a publish is never held silently.
// Connection errors are reported once per outage, not once per reconnect attempt.

import type { Redis } from 'ioredis';
import { BrokerError } from '../../realtime/broker.js';

export class RedisConnection {
  private everReady = false;
  /** Calls wait for the first connection until then (performance.now() time). */
  private readonly startDeadline: number;
  private errorReported = false;
  private readonly onReady = () => {
    this.everReady = true;
    this.errorReported = false;
  };
  private readonly onError = (error: unknown) => {
    if (this.errorReported) return;
    this.errorReported = true;
    this.report(error);
  };

  /** `owned`: close() ends the connection (false for a client the application passed in). */
  constructor(
    readonly client: Redis,
    readonly role: string,
    private readonly readyTimeoutMs: number,
    private readonly owned: boolean,
    private readonly report: (error: unknown) => void,
  ) {
    this.startDeadline = performance.now() + readyTimeoutMs;
    if (client.status === 'ready') this.everReady = true;
    client.on('ready', this.onReady);
    client.on('error', this.onError);
  }

  get isReady(): boolean {
    return this.client.status === 'ready';
  }

  /** Resolves when the connection is usable; rejects with BrokerError when it is not. */
  async ready(): Promise<void> {
    const { client } = this;
    if (client.status === 'ready') return;
    const waitMs = this.startDeadline - performance.now();
    if (this.everReady || client.status === 'end') throw this.unavailable();
    if (waitMs <= 0) throw this.unavailable(`no connection within ${this.readyTimeoutMs} ms of the start; the ${this.role} connection is ${client.status}`);
    if (client.status === 'wait') client.connect().catch(() => undefined); // lazyConnect: errors come as events
    if (!(await this.whenReady(waitMs))) throw this.unavailable(`no connection within ${this.readyTimeoutMs} ms of the start`);
  }

  /**
   * The other connection to the same Redis just came back: try now rather than at the end of the
   * reconnect backoff, and resolve once ready or after `timeoutMs` (never rejects).
   */
  async reconnectNow(timeoutMs: number): Promise<void> {
    if (this.client.status === 'ready' || this.client.status === 'end') return;
    // connect() while 'reconnecting' starts an attempt at once; the pending backoff timer's own
    // attempt then finds it connecting (or connected) and does nothing.
    if (this.client.status === 'reconnecting') this.client.connect().catch(() => undefined);
    await this.whenReady(timeoutMs);
  }

  /** True once ready, false after `timeoutMs` or when the connection ended for good. */
  private whenReady(timeoutMs: number): Promise<boolean> {
    const { client } = this;
    if (client.status === 'ready') return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const done = (ready: boolean) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('end', onEnd);
        resolve(ready);
      };
      const onReady = () => done(true);
      const onEnd = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      client.on('ready', onReady);
      client.on('end', onEnd);
    });
  }

  async close(): Promise<void> {
    this.client.off('ready', this.onReady);
    if (this.owned) {
      if (this.client.status === 'ready') await this.client.quit().catch(() => undefined);
      this.client.disconnect(); // also stops reconnecting
    }
    // An owned connection keeps its error listener: a late error of the closing socket is no crash.
    if (!this.owned) this.client.off('error', this.onError);
    this.errorReported = true;
  }

  private unavailable(detail = `the ${this.role} connection is ${this.client.status}`): BrokerError {
    return new BrokerError(`RedisBroker: Redis is unavailable (${detail})`);
  }
}
