// A session's channel requests: sub (with recovery and optional presence), unsub and presence
// lists. Requests for one channel run one after another, so sub/unsub/sub races cannot interleave;
// different channels proceed concurrently.

import type { Broker } from './broker.js';
import type { ChannelFanout } from './channel-fanout.js';
import { ChannelSubscription, type SubscriptionSink } from './channel-subscription.js';
import type { EncodedFrame } from './encoded-frame.js';
import type { ClientFrame, ErrorInfo, PublicationFrame, ServerFrame } from './envelope.js';
import { PresenceTracker } from './presence-tracker.js';
import type { PublicationBatch } from './publication-batch.js';
import { RealtimeErrorCode } from './realtime-errors.js';
import type { Replier } from './rpc-calls.js';
import type { SessionInfo } from './session-info.js';

type SubFrame = Extract<ClientFrame, { t: 'sub' }>;
type UnsubFrame = Extract<ClientFrame, { t: 'unsub' }>;
type PresenceFrame = Extract<ClientFrame, { t: 'presence' }>;

export interface ChannelPolicy {
  canSubscribe: ((session: SessionInfo, channel: string) => boolean | Promise<boolean>) | undefined;
  isVolatile(channel: string): boolean;
  /** Channels one session may be subscribed to at once (more: BAD_REQUEST). */
  maxSubscriptions: number;
  maxBufferedPublications: number;
  presenceTtlMs: number;
}

/** The session, as its channels need it. */
export interface ChannelHost extends Replier {
  send(frame: ServerFrame): void;
  /** Sends a publication (dropped instead of closing when `volatile` and the session is slow). */
  deliver(publication: EncodedFrame<PublicationFrame>, volatile: boolean): void;
  /** Sends consecutive publications at once; false: send them one by one (see SubscriptionSink.deliverBatch). */
  deliverBatch(batch: PublicationBatch): boolean;
  /** A bounded buffer overflowed: the session is too slow (close 1013). */
  overflow(): void;
  /** See SubscriptionSink.hasRoom / whenRoom: the pace of replays. */
  hasRoom(): boolean;
  whenRoom(resume: () => void): void;
}

export class SessionChannels {
  private readonly subscriptions = new Map<string, ChannelSubscription>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly presence: PresenceTracker;
  private closed = false;

  constructor(
    private readonly session: SessionInfo,
    private readonly broker: Broker,
    private readonly fanout: ChannelFanout,
    private readonly policy: ChannelPolicy,
    private readonly host: ChannelHost,
  ) {
    const member = { clientId: session.id, ...(session.userId !== undefined ? { userId: session.userId } : {}), ...(session.info !== undefined ? { info: session.info } : {}) };
    this.presence = new PresenceTracker(broker, member, (frame) => host.send(frame), () => host.overflow(), {
      ttlMs: policy.presenceTtlMs,
      maxBufferedEvents: policy.maxBufferedPublications,
    });
  }

  subscribe(frame: SubFrame): Promise<void> {
    return this.serially(frame.channel, () => this.doSubscribe(frame));
  }

  unsubscribe(frame: UnsubFrame): Promise<void> {
    return this.serially(frame.channel, () => this.doUnsubscribe(frame));
  }

  members(frame: PresenceFrame): Promise<void> {
    return this.serially(frame.channel, () => this.doMembers(frame));
  }

  /** The session closed: every subscription stops, presence is left. */
  async close(): Promise<void> {
    this.closed = true;
    for (const subscription of this.subscriptions.values()) subscription.stop();
    this.subscriptions.clear();
    await this.presence.close();
  }

  private serially(channel: string, operation: () => Promise<void>): Promise<void> {
    const tail = (this.chains.get(channel) ?? Promise.resolve()).then(operation).catch(() => {});
    this.chains.set(channel, tail);
    void tail.then(() => {
      if (this.chains.get(channel) === tail) this.chains.delete(channel);
    });
    return tail;
  }

  private async doSubscribe(frame: SubFrame): Promise<void> {
    const { id, channel } = frame;
    if (this.closed) return;
    if (this.subscriptions.has(channel)) return this.host.error(id, { code: RealtimeErrorCode.ALREADY_SUBSCRIBED, message: `Already subscribed to "${channel}"` });
    if (this.subscriptions.size >= this.policy.maxSubscriptions) {
      return this.host.error(id, { code: RealtimeErrorCode.BAD_REQUEST, message: `At most ${this.policy.maxSubscriptions} subscriptions per connection` });
    }
    if (!(await this.allowed(id, channel))) return;
    const volatile = this.policy.isVolatile(channel);
    const sink: SubscriptionSink = {
      deliver: (publication) => this.host.deliver(publication, volatile),
      deliverBatch: (batch) => this.host.deliverBatch(batch),
      overflow: () => this.host.overflow(),
      lost: (subscription, reason) => this.onLost(subscription, reason),
      hasRoom: () => this.host.hasRoom(),
      whenRoom: (resume) => this.host.whenRoom(resume),
    };
    const subscription = new ChannelSubscription(channel, this.fanout, this.broker, sink, {
      volatile,
      maxBufferedPublications: this.policy.maxBufferedPublications,
    });
    this.subscriptions.set(channel, subscription);
    try {
      const result = await subscription.start(frame.since);
      if (frame.presence === true) result.members = await this.presence.join(channel);
      if (this.closed || subscription.stopped) return;
      this.host.result(id, result);
      subscription.activate(); // in the same turn as the reply: nothing can come between
      this.presence.activate(channel);
    } catch (error) {
      subscription.stop();
      if (this.subscriptions.get(channel) === subscription) this.subscriptions.delete(channel);
      this.host.error(id, { code: RealtimeErrorCode.BROKER_UNAVAILABLE, message: `Could not subscribe to "${channel}": ${messageOf(error)}` });
    }
  }

  private async doUnsubscribe(frame: UnsubFrame): Promise<void> {
    const subscription = this.subscriptions.get(frame.channel);
    if (subscription === undefined) return this.host.error(frame.id, { code: RealtimeErrorCode.NOT_SUBSCRIBED, message: `Not subscribed to "${frame.channel}"` });
    this.subscriptions.delete(frame.channel);
    subscription.stop();
    await this.presence.leave(frame.channel);
    this.host.result(frame.id, {});
  }

  private async doMembers(frame: PresenceFrame): Promise<void> {
    if (!(await this.allowed(frame.id, frame.channel))) return;
    try {
      this.host.result(frame.id, await this.broker.members(frame.channel)); // the members array (decodePresenceMembers)
    } catch (error) {
      this.host.error(frame.id, { code: RealtimeErrorCode.BROKER_UNAVAILABLE, message: messageOf(error) });
    }
  }

  /** canSubscribe; answers FORBIDDEN (or INTERNAL when the hook throws) and returns false when not allowed. */
  private async allowed(id: number, channel: string): Promise<boolean> {
    if (this.policy.canSubscribe === undefined) return true;
    try {
      if (await this.policy.canSubscribe(this.session, channel)) return true;
      this.host.error(id, { code: RealtimeErrorCode.FORBIDDEN, message: `Not allowed to subscribe to "${channel}"` });
    } catch (error) {
      this.host.error(id, { code: RealtimeErrorCode.INTERNAL, message: `canSubscribe failed: ${messageOf(error)}` });
    }
    return false;
  }

  private onLost(subscription: ChannelSubscription, reason: ErrorInfo): void {
    if (this.subscriptions.get(subscription.channel) !== subscription) return;
    this.subscriptions.delete(subscription.channel);
    void this.presence.leave(subscription.channel);
    this.host.send({ t: 'unsubscribed', channel: subscription.channel, reason });
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
