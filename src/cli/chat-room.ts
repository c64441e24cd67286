// The demo's /chat endpoint (seed 004's broadcast chat): every text message goes to everyone
// in the room, as JSON `{ type: 'message', from, text, at }`; arrivals and departures are
// announced as `join`/`leave`, and a newcomer first gets a `welcome` with its final name.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from '../index.js';
import { chatName } from './chat-name.js';

/** Most members at once; the next one is refused with 1013 (try again later). */
export const MAX_CHAT_MEMBERS = 200;
/** Longest chat text, in UTF-16 units, after cleaning; longer texts are cut. */
export const MAX_CHAT_TEXT_LENGTH = 2_000;
/** Largest incoming frame; well above MAX_CHAT_TEXT_LENGTH in UTF-8, far below the 1 MiB default. */
const MAX_CHAT_PAYLOAD_BYTES = 16 * 1024;

export type ChatEvent =
  | { type: 'welcome'; from: string; text: string; at: string; members: string[] }
  | { type: 'join' | 'leave'; from: string; text: string; at: string; online: number }
  | { type: 'message'; from: string; text: string; at: string };

export class ChatRoom {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CHAT_PAYLOAD_BYTES });
  /** Members by connection; the value is the name shown to others, unique in the room. */
  readonly #members = new Map<WebSocket, string>();
  #guests = 0;

  constructor() {
    this.#wss.on('connection', (ws: WebSocket, req: IncomingMessage) => this.#join(ws, req));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#wss.emit('connection', ws, req));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#wss.close(() => resolve()));
  }

  #join(ws: WebSocket, req: IncomingMessage): void {
    ws.on('error', ignore);
    if (this.#members.size >= MAX_CHAT_MEMBERS) {
      ws.close(1013, 'chat room is full');
      return;
    }
    const name = this.#uniqueName(chatName(requestedName(req.url)) || `guest-${++this.#guests}`);
    this.#members.set(ws, name);
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#say(ws, name, data, isBinary));
    ws.on('close', () => {
      if (!this.#members.delete(ws)) return;
      this.#broadcast({ type: 'leave', from: name, text: `${name} left`, at: now(), online: this.#members.size });
    });
    this.#send(ws, { type: 'welcome', from: name, text: `welcome, ${name}`, at: now(), members: [...this.#members.values()] });
    this.#broadcast({ type: 'join', from: name, text: `${name} joined`, at: now(), online: this.#members.size });
  }

  #say(ws: WebSocket, name: string, data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      // RFC 6455 §7.4.1: 1003 is the code for "a type of data it cannot accept".
      ws.close(1003, 'text messages only');
      return;
    }
    const text = data
      .toString('utf8')
      .replace(/(?![\n\t])\p{Cc}/gu, '')
      .trim()
      .slice(0, MAX_CHAT_TEXT_LENGTH)
      .replace(/[\ud800-\udbff]$/, ''); // a cut through a surrogate pair would leave half a character
    if (text === '') return;
    this.#broadcast({ type: 'message', from: name, text, at: now() });
  }

  #uniqueName(base: string): string {
    const taken = new Set(this.#members.values());
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    return name;
  }

  #send(ws: WebSocket, event: ChatEvent): void {
    ws.send(JSON.stringify(event));
  }

  // Every member sits in this server's `clients`, so broadcast() frames the message once for all.
  #broadcast(event: ChatEvent): void {
    this.#wss.broadcast(JSON.stringify(event));
  }
}

function requestedName(url: string | undefined): string {
  const query = url?.split('?')[1];
  return query === undefined ? '' : (new URLSearchParams(query).get('name') ?? '');
}

function now(): string {
  return new Date().toISOString();
}

function ignore(): void {}
