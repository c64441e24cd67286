// The client's offline queue: every publish not yet acknowledged, in send order, with its publish id.
// Owner: RealtimeClient. Bound: maxQueued entries (sent or not). Overflow: the NEW publish is
// rejected with QUEUE_FULL; queued ones are kept. After a reconnect every entry is sent again, in
// order, with the same pid (the server drops repeats), before any publish made later.

import type { PublishResult } from './envelope.js';
import { RealtimeError, RealtimeErrorCode } from './realtime-errors.js';

/**
 * Error replies after which a publish is sent again (same pid) rather than rejected: RATE_LIMITED,
 * and BROKER_UNAVAILABLE. A node cannot promise "not published": an earlier copy of the same publish
 * (sent before a reconnect, or cut off inside the broker) may still be appended. Sending it again
 * with its pid settles it either way: the broker answers a repeat with the first result.
 */
export function isRetryablePublishError(code: string): boolean {
  return code === RealtimeErrorCode.RATE_LIMITED || code === RealtimeErrorCode.BROKER_UNAVAILABLE;
}

export interface OutboxEntry {
  /** `${instanceId}:${sequence}`: unique per client instance, stable across reconnects. */
  readonly pid: string;
  readonly channel: string;
  readonly data: unknown;
  /** Request id of the copy in flight on the current connection; null while waiting to be sent. */
  requestId: number | null;
  /** Held back after a retryable error reply until release(): later entries wait behind it. */
  held: boolean;
  /** Retryable error replies so far (drives the retry delay). */
  retries: number;
  readonly resolve: (result: PublishResult) => void;
  readonly reject: (error: RealtimeError) => void;
}

export class Outbox {
  /** Insertion-ordered: iteration is send order. */
  private readonly entries = new Set<OutboxEntry>();
  private readonly inFlight = new Map<number, OutboxEntry>();
  private sequence = 0;

  constructor(
    readonly maxQueued: number,
    private readonly instanceId: string,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Queues a publish; the promise settles on ack, on a non-retryable error, or with QUEUE_FULL at once. */
  add(channel: string, data: unknown): Promise<PublishResult> {
    if (this.entries.size >= this.maxQueued) {
      return Promise.reject(new RealtimeError(RealtimeErrorCode.QUEUE_FULL, `${this.maxQueued} publishes are already waiting for an ack`));
    }
    return new Promise<PublishResult>((resolve, reject) => {
      this.sequence += 1;
      this.entries.add({ pid: `${this.instanceId}:${this.sequence}`, channel, data, requestId: null, held: false, retries: 0, resolve, reject });
    });
  }

  /** Entries to send now, in order: the unsent ones before the first held one. */
  due(): OutboxEntry[] {
    const due: OutboxEntry[] = [];
    for (const entry of this.entries) {
      if (entry.held) break;
      if (entry.requestId === null) due.push(entry);
    }
    return due;
  }

  /** Publishes sent on this connection and not answered yet. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  markSent(entry: OutboxEntry, requestId: number): void {
    entry.requestId = requestId;
    this.inFlight.set(requestId, entry);
  }

  /** The entry a reply with this request id answers, if any (it is no longer in flight). */
  take(requestId: number): OutboxEntry | undefined {
    const entry = this.inFlight.get(requestId);
    if (entry === undefined) return undefined;
    this.inFlight.delete(requestId);
    entry.requestId = null;
    return entry;
  }

  /** Acknowledged: resolves the publish and forgets it. */
  ack(entry: OutboxEntry, result: PublishResult): void {
    this.remove(entry);
    entry.resolve(result);
  }

  /** Failed for good: rejects the publish and forgets it. */
  fail(entry: OutboxEntry, error: RealtimeError): void {
    this.remove(entry);
    entry.reject(error);
  }

  /** A retryable error: keep the entry, send it again after release(), later entries behind it. */
  hold(entry: OutboxEntry): void {
    entry.held = true;
    entry.retries += 1;
  }

  release(): void {
    for (const entry of this.entries) entry.held = false;
  }

  /** The connection dropped: nothing is in flight any more, everything will be sent again in order. */
  connectionLost(): void {
    for (const entry of this.entries) {
      entry.requestId = null;
      entry.held = false;
    }
    this.inFlight.clear();
  }

  rejectAll(error: RealtimeError): void {
    const entries = [...this.entries];
    this.entries.clear();
    this.inFlight.clear();
    for (const entry of entries) entry.reject(error);
  }

  private remove(entry: OutboxEntry): void {
    this.entries.delete(entry);
    if (entry.requestId !== null) this.inFlight.delete(entry.requestId);
    entry.requestId = null;
  }
}
