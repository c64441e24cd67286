// One channel's live publications on this node, fanned out to its local subscribers: each
// publication once and in offset order. Pub/sub loses messages only when the connection drops,
// so an offset that skips ahead is a gap: the feed holds what arrives, fills the gap from the
// stream (history), then goes on. A gap history cannot fill, and every reconnect, reach the
// subscribers' onGap, so they recover from history and tell clients what could not be recovered.
// Queue: `pending` (publications held during a fill), owner this feed, bound maxPending; overflow
// drops them and reports a gap.

import type { BrokerHistory, BrokerPublication } from '../../realtime/broker.js';
import type { StreamPosition } from '../../realtime/envelope.js';
import { ListenerSet } from '../../realtime/listener-set.js';
import type { TopicHandler } from './redis-subscriber.js';

export interface ChannelFeedOptions {
  /** Reads history after `since` (the broker's history()). */
  fill: (since: StreamPosition) => Promise<BrokerHistory>;
  /** Reads the channel's current position (its epoch and latest offset). */
  position: () => Promise<StreamPosition>;
  /** Publications held while a gap is filled, at most. */
  maxPending: number;
  decode: (payload: Buffer) => BrokerPublication;
  onListenerError: (error: unknown) => void;
}

export class ChannelFeed implements TopicHandler {
  private readonly publications: ListenerSet<BrokerPublication>;
  private readonly gaps: ListenerSet<void>;
  /** The last delivered position; epoch undefined until start() or the first publication (and after an overflow). */
  private epoch: string | undefined;
  private offset = 0;
  /** Defined while a gap is filled: what arrived meanwhile, in arrival order. */
  private pending: BrokerPublication[] | undefined;
  /** Tells a current fill from one an overflow abandoned. */
  private fillCount = 0;
  private closed = false;

  constructor(
    readonly channel: string,
    private readonly options: ChannelFeedOptions,
  ) {
    this.publications = new ListenerSet(options.onListenerError);
    this.gaps = new ListenerSet(options.onListenerError);
  }

  get size(): number {
    return this.publications.size;
  }

  /** Adds a subscriber; the returned function removes it. */
  add(onPublication: (publication: BrokerPublication) => void, onGap?: () => void): () => void {
    const removePublications = this.publications.add(onPublication);
    const removeGap = onGap === undefined ? () => undefined : this.gaps.add(onGap);
    return () => {
      removePublications();
      removeGap();
    };
  }

  /**
   * Once subscribed: the channel's position now is where delivery starts, so a gap right after
   * the subscribe is seen (and filled) too. Publications that came first were after it anyway.
   */
  async start(): Promise<void> {
    const position = await this.options.position();
    if (this.epoch === undefined && this.pending === undefined) {
      this.epoch = position.epoch;
      this.offset = position.offset;
    }
  }

  onMessage(payload: Buffer): void {
    let publication: BrokerPublication;
    try {
      publication = this.options.decode(payload);
    } catch (error) {
      this.options.onListenerError(error);
      return this.gap(); // something was published that nobody here can deliver
    }
    this.receive(publication);
  }

  onResubscribed(): void {
    this.gap();
  }

  receive(publication: BrokerPublication): void {
    if (this.closed) return;
    if (this.pending === undefined) return this.accept(publication, false);
    if (this.pending.length < this.options.maxPending) {
      this.pending.push(publication);
      return;
    }
    // Overflow: give up this fill; the next publication starts over and the subscribers recover.
    this.pending = undefined;
    this.fillCount += 1;
    this.epoch = undefined;
    this.gap();
  }

  close(): void {
    this.closed = true;
    this.pending = undefined;
    this.publications.clear();
    this.gaps.clear();
  }

  /** Delivers `publication` if it is the next one; a jump starts a fill unless `acceptJump`. */
  private accept(publication: BrokerPublication, acceptJump: boolean): void {
    if (publication.epoch !== this.epoch) {
      // The first publication, or the channel's history was lost (a new epoch): nothing to fill from.
      this.epoch = publication.epoch;
      return this.deliver(publication);
    }
    if (publication.offset <= this.offset) return; // delivered already (by a fill)
    if (publication.offset === this.offset + 1 || acceptJump) return this.deliver(publication);
    this.pending = [publication];
    this.startFill({ epoch: this.epoch, offset: this.offset });
  }

  private deliver(publication: BrokerPublication): void {
    this.offset = publication.offset;
    this.publications.emit(publication);
  }

  private gap(): void {
    if (!this.closed) this.gaps.emit();
  }

  private startFill(since: StreamPosition): void {
    const fill = ++this.fillCount;
    this.options.fill(since).then(
      (history) => this.filled(fill, history.epoch === since.epoch && history.complete ? history.publications : undefined),
      () => this.filled(fill, undefined),
    );
  }

  /** `replay` is what history had after the gap, or undefined when it could not fill it. */
  private filled(fill: number, replay: readonly BrokerPublication[] | undefined): void {
    if (this.closed || fill !== this.fillCount || this.pending === undefined) return;
    const held = this.pending;
    this.pending = undefined;
    if (replay === undefined) this.gap();
    const queue = replay === undefined ? held : [...replay, ...held];
    for (const [k, publication] of queue.entries()) {
      if (this.pending !== undefined) {
        // Another gap opened among the held ones: the rest wait for that fill.
        (this.pending as BrokerPublication[]).push(...queue.slice(k));
        return;
      }
      // Without a replay the gap stays: the first held publication is delivered across it.
      this.accept(publication, replay === undefined && k === 0);
    }
  }
}
