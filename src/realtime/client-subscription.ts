// One channel subscription on the client: the last {epoch, offset} delivered, typed handlers,
// the `recovered` flag of the last (re)subscribe, and exactly-once, in-order delivery (offsets at or
// below the last delivered one in the same epoch are dropped).

import type { PresenceMember, PublicationFrame, StreamPosition } from './envelope.js';
import { decodeSubscribeResult } from './envelope-decoder.js';
import { RealtimeError, RealtimeErrorCode } from './realtime-errors.js';
import { TypedEmitter } from './typed-emitter.js';

export interface SubscribeOptions {
  /** Join the channel's presence set and receive `join` / `leave` events. */
  presence?: boolean;
  /** Start after this position (recovery from history) instead of from now. */
  since?: StreamPosition;
}

/** Where a publication sits in its channel. */
export interface PublicationMeta {
  epoch: string;
  offset: number;
}

export interface SubscribedInfo {
  /**
   * False when the server could not replay everything missed since the last position (history too
   * short or epoch changed): delivery restarts from `offset`, reload the channel's state.
   */
  recovered: boolean;
  epoch: string;
  /** The channel's latest offset when the subscription (re)started. */
  offset: number;
  /** The presence set, when subscribed with `presence: true`. */
  members?: PresenceMember[];
}

export type SubscriptionEvents<T> = {
  /** Each publication exactly once, in offset order. */
  publication: [data: T, meta: PublicationMeta];
  /** After every successful (re)subscribe, before the publications it replays. */
  subscribed: [info: SubscribedInfo];
  join: [member: PresenceMember];
  leave: [member: PresenceMember];
  /** The server refused the subscription (e.g. FORBIDDEN): it has ended. */
  error: [error: RealtimeError];
  /** The server ended the subscription; subscribe again to restart it. */
  unsubscribed: [reason: RealtimeError];
};

/** What a subscription needs from its client. */
export interface SubscriptionOwner {
  presenceOf(channel: string): Promise<PresenceMember[]>;
  unsubscribeFrom(channel: string): void;
}

export class ClientSubscription<T = unknown> extends TypedEmitter<SubscriptionEvents<T>> {
  private last: StreamPosition | null = null;
  /** A subscribe result arrived on the current connection: publications may be delivered. */
  private active = false;
  private ended = false;
  private lastRecovered: boolean | null = null;

  constructor(
    readonly channel: string,
    readonly options: SubscribeOptions,
    private readonly owner: SubscriptionOwner,
  ) {
    super();
    if (options.since !== undefined) this.last = { epoch: options.since.epoch, offset: options.since.offset };
  }

  /** The last publication's position (null before the first subscribe result). */
  get position(): StreamPosition | null {
    return this.last === null ? null : { ...this.last };
  }

  /** The `recovered` flag of the last subscribe result (null before the first). */
  get recovered(): boolean | null {
    return this.lastRecovered;
  }

  /** Subscribed on the current connection. */
  get isActive(): boolean {
    return this.active && !this.ended;
  }

  /** The channel's current presence set (waits for a connection; rejects like client.call). */
  presence(): Promise<PresenceMember[]> {
    return this.owner.presenceOf(this.channel);
  }

  /** Ends the subscription for good (no more events, no resubscribe). */
  unsubscribe(): void {
    if (this.end()) this.owner.unsubscribeFrom(this.channel);
  }

  // ---- driven by RealtimeClient ----

  /** @internal The `sub` request for a (re)subscribe, recovering from the last position. */
  subscribeRequest(id: number): { t: 'sub'; id: number; channel: string; since?: StreamPosition; presence?: boolean } {
    this.active = false;
    return {
      t: 'sub', id, channel: this.channel,
      ...(this.last !== null ? { since: { ...this.last } } : {}),
      ...(this.options.presence === true ? { presence: true } : {}),
    };
  }

  /** @internal The subscribe result: start (again), tell the app, deliver what was replayed. */
  handleResult(value: unknown): void {
    if (this.ended) return;
    const decoded = decodeSubscribeResult(value);
    if (!decoded.ok) {
      this.emit('error', new RealtimeError(RealtimeErrorCode.INTERNAL, `malformed subscribe result for "${this.channel}": ${decoded.reason}`));
      return;
    }
    const { result } = decoded;
    const { epoch, offset, recovered, members } = result;
    // After recovered:false delivery restarts from the reply's position (the app reloads its state).
    if (!recovered) this.last = { epoch, offset };
    this.active = true;
    this.lastRecovered = recovered;
    this.emit('subscribed', { recovered, epoch, offset, ...(members !== undefined ? { members } : {}) });
    for (const publication of result.publications) this.deliver(publication);
    const last = this.last;
    if (last === null || last.epoch !== epoch || last.offset < offset) this.last = { epoch, offset };
  }

  /** @internal A live publication (dropped before the subscribe result and when already delivered). */
  handlePublication(frame: PublicationFrame): void {
    if (this.active && !this.ended) this.deliver(frame);
  }

  /** @internal */
  handlePresence(type: 'join' | 'leave', member: PresenceMember): void {
    if (this.isActive) this.emit(type, member);
  }

  /** @internal The connection dropped: wait for the next subscribe result. */
  connectionLost(): void {
    this.active = false;
  }

  /** @internal The server refused or ended the subscription. */
  fail(event: 'error' | 'unsubscribed', error: RealtimeError): void {
    if (this.end()) this.emit(event, error);
  }

  private end(): boolean {
    if (this.ended) return false;
    this.ended = true;
    this.active = false;
    return true;
  }

  private deliver(publication: { epoch: string; offset: number; data: unknown }): void {
    const { epoch, offset } = publication;
    const last = this.last;
    if (last !== null && last.epoch === epoch && offset <= last.offset) return; // already delivered
    this.last = { epoch, offset };
    this.emit('publication', publication.data as T, { epoch, offset });
  }
}
