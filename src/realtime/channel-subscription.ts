// One session's subscription to one channel, and the recovery promise of DESIGN.md §2: subscribe
// live first and buffer, read history, reply, then forward buffered and live publications by
// offset so that nothing is missed and nothing is sent twice. A gap in the live stream (a
// broker-reported gap or an offset jump) is caught up from history; when history cannot cover it
// the subscription ends with an `unsubscribed` frame, never silently. A replay goes out as fast as
// the connection takes it (live publications wait meanwhile), so a healthy client catching up on
// more than the outbound bound is not taken for a slow consumer.

import type { Broker, BrokerPublication } from './broker.js';
import { publicationFrame, type ChannelFanout, type FanoutListener } from './channel-fanout.js';
import { EncodedFrame } from './encoded-frame.js';
import type { ErrorInfo, PublicationFrame, StreamPosition, SubscribeResult } from './envelope.js';
import type { PublicationBatch } from './publication-batch.js';
import { RealtimeErrorCode } from './realtime-errors.js';

/** Where a subscription's publications go (the session). */
export interface SubscriptionSink {
  deliver(publication: EncodedFrame<PublicationFrame>): void;
  /**
   * Sends a whole batch that follows on from what was delivered. False when the sink wants the
   * publications one at a time instead (e.g. near its outbound bound, where each one is checked).
   */
  deliverBatch(batch: PublicationBatch): boolean;
  /** The buffer of a non-volatile subscription is full: the session is too slow (close 1013). */
  overflow(subscription: ChannelSubscription): void;
  /** The subscription cannot keep its promise (history does not cover a live gap) and has stopped. */
  lost(subscription: ChannelSubscription, reason: ErrorInfo): void;
  /** Whether a replay may send more now (the connection's outbound buffer is well below its bound). */
  hasRoom(): boolean;
  /** Calls `resume` once hasRoom() is true again; never after the session ended. */
  whenRoom(resume: () => void): void;
}

export interface ChannelSubscriptionOptions {
  /** Volatile channels drop publications instead of buffering past the bound, and do not chase gaps. */
  volatile: boolean;
  /** Publications held while history is read (owner: this subscription; overflow: sink.overflow or drop). */
  maxBufferedPublications: number;
}

const State = { STARTING: 'starting', REPLAYING: 'replaying', LIVE: 'live', CATCHING_UP: 'catching-up', STOPPED: 'stopped' } as const;
type State = (typeof State)[keyof typeof State];

export class ChannelSubscription implements FanoutListener {
  private state: State = State.STARTING;
  private buffer: EncodedFrame<PublicationFrame>[] = [];
  /** The last position the client has (or was told about). */
  private epoch = '';
  private offset = 0;
  /** The part of a replay too big for the subscribe result, sent right after it. */
  private replayAfterResult: BrokerPublication[] = [];
  /** A replay being sent (REPLAYING), and how far it got. */
  private replay: readonly BrokerPublication[] = [];
  private replayed = 0;
  /** The broker reported a gap while starting or replaying: catch up once live. */
  private gapPending = false;

  constructor(
    readonly channel: string,
    private readonly fanout: ChannelFanout,
    private readonly broker: Broker,
    private readonly sink: SubscriptionSink,
    private readonly options: ChannelSubscriptionOptions,
  ) {}

  /**
   * Goes live (buffering), then reads history. The caller sends the result and calls activate()
   * right after, in the same turn. Rejects when the broker fails (the subscription is then stopped).
   */
  async start(since: StreamPosition | undefined): Promise<SubscribeResult> {
    let history;
    try {
      await this.fanout.attach(this.channel, this);
      history = await this.broker.history(this.channel, since !== undefined ? { since } : { limit: 1 });
    } catch (error) {
      this.stop();
      throw error;
    }
    const sameEpoch = since !== undefined && history.epoch === since.epoch;
    // Without `since` nothing was asked for, so nothing is missing.
    const recovered = since === undefined || (sameEpoch && history.complete);
    // recovered: false → the client reloads its state and goes on from `offset`: a partial replay would only mislead.
    const replay = recovered && since !== undefined ? history.publications.filter((publication) => publication.offset > since.offset) : [];
    this.epoch = history.epoch;
    // The result carries the start of the replay; the rest follows as `pub` frames right after it,
    // so no single message outgrows what a client accepts. `offset` is where the result leaves off.
    const inResult = replayPrefix(replay);
    this.replayAfterResult = replay.slice(inResult.length);
    this.offset = this.replayAfterResult.length > 0 ? (inResult.at(-1)?.offset ?? since!.offset) : Math.max(history.latestOffset, replay.at(-1)?.offset ?? 0);
    return { epoch: this.epoch, offset: this.offset, recovered, publications: inResult.map(publicationFrame) };
  }

  /** The result went out: forward what arrived meanwhile (after the replayed offsets), then live. */
  activate(): void {
    if (this.state !== State.STARTING) return;
    const rest = this.replayAfterResult;
    this.replayAfterResult = [];
    this.goLive(rest);
  }

  stop(): void {
    if (this.state === State.STOPPED) return;
    this.state = State.STOPPED;
    this.buffer = [];
    this.replay = [];
    this.fanout.detach(this.channel, this);
  }

  get stopped(): boolean {
    return this.state === State.STOPPED;
  }

  onPublication(publication: EncodedFrame<PublicationFrame>): void {
    switch (this.state) {
      case State.STOPPED:
        return;
      case State.STARTING:
      case State.REPLAYING:
      case State.CATCHING_UP:
        return this.hold(publication);
      case State.LIVE:
        return this.forward(publication);
      default:
        return assertNever(this.state);
    }
  }

  /**
   * Live and exactly at the batch's start: the whole batch in one go (what forward() would do for
   * each). Anything else (buffering, a gap, an epoch change, old offsets) takes the per-publication path.
   */
  onPublications(batch: PublicationBatch): void {
    if (this.state === State.LIVE && batch.consecutive && batch.epoch === this.epoch && batch.firstOffset === this.offset + 1 && this.sink.deliverBatch(batch)) {
      this.offset = batch.lastOffset;
      return;
    }
    for (const publication of batch.publications) this.onPublication(publication);
  }

  onGap(): void {
    if (this.options.volatile) return;
    if (this.state === State.STARTING || this.state === State.REPLAYING) this.gapPending = true;
    else if (this.state === State.LIVE) this.catchUp();
  }

  private hold(publication: EncodedFrame<PublicationFrame>): void {
    if (this.buffer.length < this.options.maxBufferedPublications) {
      this.buffer.push(publication);
      return;
    }
    if (!this.options.volatile) this.sink.overflow(this); // volatile: dropped for this session
  }

  /** Merge by offset: older or equal offsets were sent already, a jump is a gap to catch up. */
  private forward(publication: EncodedFrame<PublicationFrame>): void {
    const { epoch, offset } = publication.frame;
    if (epoch !== this.epoch) {
      if (!this.options.volatile) return this.lose(`the channel's epoch changed from ${this.epoch} to ${epoch}: its history was lost`);
      this.epoch = epoch; // volatile: follow the new epoch
      this.offset = offset;
      return this.sink.deliver(publication);
    }
    if (offset <= this.offset) return;
    if (offset > this.offset + 1 && !this.options.volatile) {
      this.buffer.push(publication);
      return this.catchUp();
    }
    this.offset = offset;
    this.sink.deliver(publication);
  }

  /** Reads history after the current position, then forwards it and what was buffered meanwhile. */
  private catchUp(): void {
    this.state = State.CATCHING_UP;
    const since = { epoch: this.epoch, offset: this.offset };
    this.broker.history(this.channel, { since }).then(
      (history) => {
        if (this.state !== State.CATCHING_UP) return;
        if (history.epoch !== since.epoch || !history.complete) {
          return this.lose(`the live stream had a gap after offset ${since.offset} that history no longer covers`);
        }
        this.goLive(history.publications);
      },
      () => {
        if (this.state === State.CATCHING_UP) this.lose('the broker failed while a gap in the live stream was caught up');
      },
    );
  }

  /** Sends `replay` (paced), then what was held meanwhile, then live. */
  private goLive(replay: readonly BrokerPublication[]): void {
    this.state = State.REPLAYING;
    this.replay = replay;
    this.replayed = 0;
    this.continueReplay();
  }

  /** As much of the replay as the connection has room for; the rest when it drained. */
  private continueReplay(): void {
    while (this.state === State.REPLAYING && this.replayed < this.replay.length) {
      if (!this.sink.hasRoom()) return this.sink.whenRoom(() => this.continueReplay());
      this.forward(new EncodedFrame(publicationFrame(this.replay[this.replayed++]!)));
    }
    const rest = this.replay.slice(this.replayed);
    this.replay = [];
    if (this.state === State.CATCHING_UP) {
      // forward() found a gap inside the replay: the catch-up reads from there, held ones after.
      this.buffer.unshift(...rest.map((publication) => new EncodedFrame(publicationFrame(publication))));
      return;
    }
    if (this.state !== State.REPLAYING) return;
    const held = this.buffer;
    this.buffer = [];
    this.state = State.LIVE;
    // Through onPublication: if one of these opens a gap, the rest wait in the buffer again.
    for (const publication of held) this.onPublication(publication);
    if (this.gapPending && this.state === State.LIVE) {
      this.gapPending = false;
      this.catchUp();
    }
  }

  private lose(message: string): void {
    this.stop();
    this.sink.lost(this, { code: RealtimeErrorCode.BROKER_UNAVAILABLE, message: `${message}; subscribe again with since to learn what was lost` });
  }
}

/** At most this much of a replay rides in the subscribe result (the rest follows as `pub` frames). */
const REPLAY_IN_RESULT_MAX_PUBLICATIONS = 100;
const REPLAY_IN_RESULT_MAX_BYTES = 256 * 1024;

/** The leading publications of a replay that fit the subscribe result's budget (at least none). */
function replayPrefix(replay: readonly BrokerPublication[]): readonly BrokerPublication[] {
  let bytes = 0;
  for (let i = 0; i < replay.length && i < REPLAY_IN_RESULT_MAX_PUBLICATIONS; i++) {
    bytes += estimatedBytes(replay[i]!.data);
    if (bytes > REPLAY_IN_RESULT_MAX_BYTES) return replay.slice(0, i);
  }
  return replay.slice(0, REPLAY_IN_RESULT_MAX_PUBLICATIONS);
}

function estimatedBytes(data: unknown): number {
  if (typeof data === 'string') return data.length * 3;
  if (data instanceof Uint8Array) return data.byteLength;
  return (JSON.stringify(data) ?? '').length * 3;
}

function assertNever(value: never): never {
  throw new Error(`unexpected state ${String(value)}`);
}
