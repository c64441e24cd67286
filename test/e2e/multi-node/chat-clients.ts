// The chat side of a multi-node run: RealtimeClients (tidewire's WebSocket) connected through the
// balancer, each subscribed to every channel, publishing a message per round on a rotating channel,
// with everything they publish and receive written to a ChatLedger.

import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { RealtimeClient, RealtimeError, WebSocket, type SubscribedInfo } from '../../../src/index.js';
import { ChatLedger, type ChatMessage } from './chat-ledger.js';

export interface ChatClientsOptions {
  url: string;
  count: number;
  channels: readonly string[];
  /** The token of client `index` (none: anonymous). */
  token?: (index: number) => string;
}

export class ChatClients {
  readonly ledger = new ChatLedger();
  readonly clients: RealtimeClient<Record<string, ChatMessage>>[] = [];
  /** Hellos per client (1 + reconnects). */
  readonly connects: number[] = [];
  private readonly pending = new Set<Promise<void>>();
  private readonly startedAt = performance.now();
  private seq = 0;

  constructor(private readonly options: ChatClientsOptions) {
    for (let index = 0; index < options.count; index += 1) {
      const client = new RealtimeClient<Record<string, ChatMessage>>(options.url, {
        WebSocket,
        backoff: { baseMs: 50, capMs: 500 },
        connectTimeoutMs: 3000,
        ...(options.token !== undefined ? { token: options.token(index) } : {}),
      });
      this.connects.push(0);
      client.on('state', (state) => {
        if (state === 'connected') this.connects[index] = (this.connects[index] ?? 0) + 1;
      });
      for (const channel of options.channels) {
        const view = this.ledger.view(index, channel);
        const subscription = client.subscribe(channel);
        subscription.on('publication', (data, meta) => view.deliveries.push({ id: data.id, ...meta }));
        subscription.on('subscribed', (info: SubscribedInfo) => view.subscribed.push(info));
        // A subscription the client gave up: recorded with when and why, so a check names it.
        const ended = (what: string) => (error: RealtimeError) =>
          view.subscribed.push({ recovered: false, epoch: `${what} ${error.code} at ${Math.round(this.now())} ms: ${error.message}`, offset: -1 });
        subscription.on('error', ended('error'));
        subscription.on('unsubscribed', ended('unsubscribed'));
      }
      this.clients.push(client);
    }
  }

  /** Ms since the clients were made. */
  now(): number {
    return performance.now() - this.startedAt;
  }

  /** Resolves once every client got a first subscribe result on every channel. */
  async subscribed(timeoutMs: number): Promise<void> {
    await waitFor(() => this.ledger.views.every((byChannel) => [...byChannel.values()].every((view) => view.subscribed.length > 0)), timeoutMs, 'every client subscribed to every channel');
  }

  /** One message from every client, each on its channel of the round. */
  publishRound(): void {
    const seq = (this.seq += 1);
    const { channels } = this.options;
    this.clients.forEach((client, index) => {
      const channel = channels[(index + seq) % channels.length]!;
      const message: ChatMessage = { id: `${index}:${seq}`, client: index, seq };
      const record = this.ledger.published(message, channel, this.now());
      const settled = client.publish(channel, message).then(
        ({ epoch, offset }) => this.ledger.acked(record, epoch, offset),
        (error: unknown) => this.ledger.rejected(record, error instanceof RealtimeError ? error.code : 'NOT_A_REALTIME_ERROR', String(error)),
      );
      this.pending.add(settled);
      void settled.finally(() => this.pending.delete(settled));
    });
  }

  /** Publishes a round every `intervalMs` for `durationMs`, running each event at its time (awaited before returning). */
  async traffic(durationMs: number, intervalMs: number, events: readonly { atMs: number; run: () => Promise<void> }[] = []): Promise<void> {
    const start = performance.now();
    const running = events.map(async ({ atMs, run }) => {
      await delay(atMs);
      await run();
    });
    while (performance.now() - start < durationMs) {
      this.publishRound();
      await delay(intervalMs);
    }
    await Promise.all(running);
  }

  /** Resolves once every publish made so far has settled (acked or rejected). */
  async settled(timeoutMs: number): Promise<void> {
    await waitFor(() => this.pending.size === 0, timeoutMs, `${this.pending.size} publishes to settle`);
  }

  close(): void {
    for (const client of this.clients) client.close();
  }
}

/** Polls `condition` every 25 ms; rejects naming `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(25);
  }
}
