// The client's subscriptions by channel: bounded (maxSubscriptions; overflow: subscribe() throws
// QUEUE_FULL), subscribed again on every connect from their last position, and the routing of
// subscribe replies, publications, presence events and `unsubscribed` frames to them.

import type { ConnectionLink } from './client-connection.js';
import type { ClientTimers } from './client-timers.js';
import { ClientSubscription, type SubscribeOptions, type SubscriptionOwner } from './client-subscription.js';
import type { PresenceMember, PublicationFrame } from './envelope.js';
import { RealtimeError, RealtimeErrorCode } from './realtime-errors.js';

type AnySubscription = ClientSubscription<never>;

export class ClientSubscriptions {
  private readonly byChannel = new Map<string, AnySubscription>();
  /** Subscribe requests in flight on the current connection. */
  private readonly requests = new Map<number, AnySubscription>();
  private readonly owner: SubscriptionOwner;
  /** Subscribes refused by a broker that was briefly unavailable, waiting to be tried again (one per subscription). */
  private readonly retries = new Map<AnySubscription, { timer: unknown; attempt: number }>();

  constructor(
    private readonly maxSubscriptions: number,
    private readonly link: ConnectionLink,
    presenceOf: (channel: string) => Promise<PresenceMember[]>,
    private readonly timers: ClientTimers,
    /** Delay before the n-th (0-based) retry of a subscribe the broker refused. */
    private readonly retryDelayMs: (attempt: number) => number,
  ) {
    this.owner = {
      presenceOf,
      unsubscribeFrom: (channel) => {
        const subscription = this.byChannel.get(channel);
        const retry = subscription === undefined ? undefined : this.retries.get(subscription);
        if (retry !== undefined) {
          this.timers.clearTimeout(retry.timer);
          this.retries.delete(subscription!);
        }
        this.byChannel.delete(channel);
        if (this.link.isLive()) this.link.send({ t: 'unsub', id: this.link.nextId(), channel });
      },
    };
  }

  /** A new subscription, subscribed at once when the connection is live. */
  add<T>(channel: string, options: SubscribeOptions): ClientSubscription<T> {
    if (this.byChannel.has(channel)) throw new RealtimeError(RealtimeErrorCode.ALREADY_SUBSCRIBED, `already subscribed to "${channel}"`);
    if (this.byChannel.size >= this.maxSubscriptions) throw new RealtimeError(RealtimeErrorCode.QUEUE_FULL, `${this.maxSubscriptions} channels are subscribed already`);
    const subscription = new ClientSubscription<T>(channel, options, this.owner);
    this.byChannel.set(channel, subscription as AnySubscription);
    if (this.link.isLive()) this.subscribe(subscription as AnySubscription);
    return subscription;
  }

  /** A connection said hello: every subscription subscribes again from its last position. */
  resubscribeAll(): void {
    for (const subscription of this.byChannel.values()) this.subscribe(subscription);
  }

  connectionLost(): void {
    for (const subscription of this.byChannel.values()) subscription.connectionLost();
    this.requests.clear();
    for (const retry of this.retries.values()) this.timers.clearTimeout(retry.timer); // the next hello resubscribes all
    this.retries.clear();
  }

  /** A `result` or `error` for request `id`: false when it is not a subscribe request. */
  reply(id: number, error: RealtimeError | null, result: unknown): boolean {
    const subscription = this.requests.get(id);
    if (subscription === undefined) return false;
    this.requests.delete(id);
    if (error === null) {
      this.retries.delete(subscription);
      subscription.handleResult(result);
    } else if (error.code === RealtimeErrorCode.BROKER_UNAVAILABLE && this.byChannel.get(subscription.channel) === subscription) {
      this.retryLater(subscription); // e.g. Redis reconnecting: keep the position, try again
    } else {
      if (this.byChannel.get(subscription.channel) === subscription) this.byChannel.delete(subscription.channel);
      subscription.fail('error', error);
    }
    return true;
  }

  publication(frame: PublicationFrame): void {
    this.byChannel.get(frame.channel)?.handlePublication(frame);
  }

  presence(type: 'join' | 'leave', channel: string, member: PresenceMember): void {
    this.byChannel.get(channel)?.handlePresence(type, member);
  }

  /**
   * The server ended a subscription. After a gap it could not fill (BROKER_UNAVAILABLE) it is
   * subscribed again from its last position, so the app hears `subscribed` with recovered:false
   * only when history cannot cover the gap; any other reason (e.g. FORBIDDEN) ends it.
   */
  unsubscribed(channel: string, reason: RealtimeError): void {
    const subscription = this.byChannel.get(channel);
    if (subscription === undefined) return;
    subscription.connectionLost();
    if (reason.code === RealtimeErrorCode.BROKER_UNAVAILABLE) return this.subscribe(subscription);
    this.byChannel.delete(channel);
    subscription.fail('unsubscribed', reason);
  }

  private retryLater(subscription: AnySubscription): void {
    const attempt = (this.retries.get(subscription)?.attempt ?? -1) + 1;
    const timer = this.timers.setTimeout(() => {
      if (this.byChannel.get(subscription.channel) === subscription && this.link.isLive()) this.subscribe(subscription);
    }, this.retryDelayMs(attempt));
    this.retries.set(subscription, { timer, attempt });
  }

  private subscribe(subscription: AnySubscription): void {
    const id = this.link.nextId();
    this.requests.set(id, subscription);
    this.link.send(subscription.subscribeRequest(id));
  }
}
