// The demo's /clock endpoint (seed 004's timed push): the server sends the time every second.
// One timer for all clients, framed once per tick through broadcast(); it runs only while
// someone listens, so an idle demo server does no work.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from '../index.js';

export class ClockFeed {
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #listeners = new Set<WebSocket>();
  readonly #now: () => Date;
  #timer: NodeJS.Timeout | undefined;

  /** `now` is injectable so a test can pin the time; the demo uses the real clock. */
  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
    this.#wss.on('connection', (ws: WebSocket) => this.#add(ws));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#wss.emit('connection', ws, req));
  }

  close(): Promise<void> {
    this.#stop();
    return new Promise((resolve) => this.#wss.close(() => resolve()));
  }

  #add(ws: WebSocket): void {
    ws.on('error', ignore);
    ws.on('close', () => {
      this.#listeners.delete(ws);
      if (this.#listeners.size === 0) this.#stop();
    });
    this.#listeners.add(ws);
    // The current time at once, so a new page does not show a blank clock for up to a second.
    ws.send(this.#now().toISOString());
    if (this.#timer === undefined) this.#schedule();
  }

  // Ticks land just after each wall-clock second, so every client's display changes in step
  // with real seconds; re-arming from the clock each time also keeps the ticks from drifting.
  #schedule(): void {
    const delayMs = 1000 - (this.#now().getTime() % 1000);
    this.#timer = setTimeout(() => {
      this.#wss.broadcast(this.#now().toISOString());
      this.#schedule();
    }, delayMs);
  }

  #stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function ignore(): void {}
