// The broker's one pub/sub connection: topics subscribed while they have handlers, messages routed
// to them, and, after the connection came back, every topic subscribed again before its handlers
// hear `onResubscribed` (what was published meanwhile never reached this node). SUBSCRIBE and
// UNSUBSCRIBE of a topic run one after another, so a quick unsubscribe-subscribe ends subscribed.

import type { Redis } from 'ioredis';

export interface TopicHandler {
  onMessage(payload: Buffer): void;
  /** The connection dropped and the topic is subscribed again: messages may have been missed. */
  onResubscribed(): void;
}

interface TopicState {
  readonly handlers: Set<TopicHandler>;
  /** Whether the topic should be subscribed (it has handlers). */
  wanted: boolean;
  /** The latest SUBSCRIBE of this topic (rejected when it failed). */
  subscribed: Promise<void>;
  /** The SUBSCRIBE/UNSUBSCRIBE commands of this topic, in order. */
  chain: Promise<void>;
}

export class RedisSubscriber {
  private readonly topics = new Map<string, TopicState>();
  private closed = false;
  private readonly onMessageBuffer = (topic: Buffer, payload: Buffer) => this.route(topic.toString('utf8'), payload);
  private readonly onReconnectReady = () => void this.resubscribe();

  /**
   * `connection` must be ready before add() is called; its 'ready' events after the first mean a
   * reconnect. Give it `autoResubscribe: false`: this class resubscribes and then tells handlers.
   */
  constructor(
    private readonly connection: Redis,
    private readonly onHandlerError: (error: unknown) => void,
    /** Runs after a reconnect, before handlers hear of it (the broker waits for its command connection). */
    private readonly beforeResubscribed: () => Promise<void> = async () => undefined,
  ) {
    connection.on('messageBuffer', this.onMessageBuffer);
    connection.on('ready', this.onReconnectReady);
  }

  /** Adds `handler` to `topic`; resolves once Redis confirmed the subscription. */
  async add(topic: string, handler: TopicHandler): Promise<void> {
    let state = this.topics.get(topic);
    if (state === undefined) {
      state = { handlers: new Set(), wanted: false, subscribed: Promise.resolve(), chain: Promise.resolve() };
      this.topics.set(topic, state);
    }
    state.handlers.add(handler);
    if (!state.wanted) {
      state.wanted = true;
      state.subscribed = this.enqueue(topic, state, () => this.connection.subscribe(topic));
    }
    try {
      await state.subscribed;
    } catch (error) {
      this.remove(topic, handler);
      throw error;
    }
  }

  /** Removes `handler`; the last handler of a topic unsubscribes it. Never rejects. */
  async remove(topic: string, handler: TopicHandler): Promise<void> {
    const state = this.topics.get(topic);
    if (state === undefined || !state.handlers.delete(handler) || state.handlers.size > 0) return;
    state.wanted = false;
    await this.enqueue(topic, state, async () => {
      if (state.wanted) return; // added again meanwhile: its SUBSCRIBE comes after this
      if (this.topics.get(topic) === state) this.topics.delete(topic);
      if (!this.closed && this.connection.status === 'ready') await this.connection.unsubscribe(topic);
    }).catch(() => undefined); // a failed UNSUBSCRIBE leaves a topic nobody listens to: its messages are dropped
  }

  get topicCount(): number {
    return this.topics.size;
  }

  close(): void {
    this.closed = true;
    this.connection.off('messageBuffer', this.onMessageBuffer);
    this.connection.off('ready', this.onReconnectReady);
    this.topics.clear();
  }

  private enqueue(topic: string, state: TopicState, command: () => Promise<unknown>): Promise<void> {
    const result = state.chain.then(async () => {
      if (this.closed) throw new Error(`subscriber closed before ${topic} was (un)subscribed`);
      await command();
    });
    state.chain = result.catch(() => undefined);
    return result;
  }

  private route(topic: string, payload: Buffer): void {
    const state = this.topics.get(topic);
    if (state === undefined) return;
    for (const handler of state.handlers) {
      try {
        handler.onMessage(payload);
      } catch (error) {
        this.onHandlerError(error);
      }
    }
  }

  /** After a reconnect: subscribe every wanted topic again, then tell their handlers. */
  private async resubscribe(): Promise<void> {
    const topics = [...this.topics].filter(([, state]) => state.wanted);
    if (this.closed || topics.length === 0) return;
    try {
      await this.connection.subscribe(...topics.map(([topic]) => topic));
    } catch {
      return; // dropped again: the next 'ready' tries again
    }
    await this.beforeResubscribed();
    if (this.closed) return;
    for (const [, state] of topics) {
      for (const handler of state.handlers) {
        try {
          handler.onResubscribed();
        } catch (error) {
          this.onHandlerError(error);
        }
      }
    }
  }
}
