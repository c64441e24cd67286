// The demo's realtime chat, on the messaging layer (issue 4): a RealtimeServer taking the upgrades
// of /realtime, with nicknames from the handshake token, one channel `room:<name>` per room,
// presence with { name }, and three RPC methods for the page: `chat.whoami`, `room.list` and
// `room.history` (the last messages with their offsets, up to the position a subscription started at).

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { MemoryBroker, RealtimeError, RealtimeErrorCode, RealtimeServer, type PresenceMember } from '../index.js';
import { chatMessageProblem, type ChatMessage } from './chat-message.js';
import { chatName } from './chat-name.js';
import { ChatRooms, type RoomSummary } from './chat-rooms.js';
import { isRoomName, roomChannel, roomOfChannel } from './room-name.js';

/** Messages kept per room … */
export const CHAT_HISTORY_SIZE = 200;
/** … for at most this long (an idle, empty room's whole history goes then, and it starts a new epoch). */
export const CHAT_HISTORY_TTL_MS = 6 * 60 * 60_000;
/** room.history returns this many messages unless asked for fewer … */
export const DEFAULT_HISTORY_LIMIT = 50;
/** … and never more than this. */
export const MAX_HISTORY_LIMIT = CHAT_HISTORY_SIZE;
/**
 * Per connection. The burst covers a page flushing its whole offline queue at once after a
 * reconnect (web/chat.js keeps at most 100 unsent messages) plus its subscribe and calls: a flush
 * refused more than 2 × burst times within a second is closed with 1008, which the client does not
 * reconnect from (its queued messages are then rejected), so the queue must stay below the burst.
 */
export const CHAT_RATE_LIMIT = { ratePerSecond: 20, burst: 120 } as const;

/** A message of room.history's answer: the publication's data and its place in the room's channel. */
export interface HistoryEntry {
  offset: number;
  data: ChatMessage;
  /** When the broker appended it, in ms. */
  time: number;
}

export interface RoomHistory {
  room: string;
  epoch: string;
  /** The room's latest offset. */
  offset: number;
  /** Oldest first, offsets up to `until` when it was given. */
  messages: HistoryEntry[];
  /** Messages before the first one returned exist (or existed). */
  hasEarlier: boolean;
}

export interface ChatRealtimeOptions {
  /** Handshakes and sessions: tests turn the WebSocket heartbeat down or off. */
  heartbeatIntervalMs?: number;
}

export class ChatRealtime {
  readonly #broker = new MemoryBroker({ historySize: CHAT_HISTORY_SIZE, historyTtlMs: CHAT_HISTORY_TTL_MS });
  readonly #rooms = new ChatRooms((room) => this.#online(room));
  readonly #server: RealtimeServer;

  constructor(options: ChatRealtimeOptions = {}) {
    this.#server = new RealtimeServer({
      noServer: true,
      broker: this.#broker,
      authenticate: (_req, token) => {
        // The demo has no accounts: the token is the nickname, cleaned like /chat's.
        const name = chatName(token ?? '');
        return name === '' ? null : { userId: name, info: { name } };
      },
      canSubscribe: (_session, channel) => this.#useRoom(roomOfChannel(channel)),
      canPublish: (session, channel, data) =>
        chatMessageProblem(data, session.userId) === undefined && this.#useRoom(roomOfChannel(channel)),
      rateLimit: CHAT_RATE_LIMIT,
      ...(options.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: options.heartbeatIntervalMs } : {}),
    });
    this.#server.on('error', (error: unknown) => {
      process.stderr.write(`tidewire demo: /realtime: ${error instanceof Error ? error.message : String(error)}\n`);
    });
    this.#server.handle('chat.whoami', (_params, { session }) => ({ name: session.userId ?? '' }));
    this.#server.handle('room.list', async (): Promise<{ rooms: RoomSummary[] }> => ({ rooms: await this.#rooms.list() }));
    this.#server.handle('room.history', (params: unknown) => this.#history(params));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#server.handleUpgrade(req, socket, head);
  }

  /** Closes every session with 1001, then the broker. */
  async close(): Promise<void> {
    await this.#server.close();
    await this.#broker.close();
  }

  async #useRoom(room: string | undefined): Promise<boolean> {
    return room !== undefined && (await this.#rooms.use(room));
  }

  async #history(params: unknown): Promise<RoomHistory> {
    const { room, limit = DEFAULT_HISTORY_LIMIT, until } = (typeof params === 'object' && params !== null ? params : {}) as Record<string, unknown>;
    if (!isRoomName(room)) throw badRequest('room must be a room name (lowercase letters, digits and dashes)');
    if (!isCount(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) throw badRequest(`limit must be an integer from 1 to ${MAX_HISTORY_LIMIT}`);
    if (until !== undefined && !isCount(until)) throw badRequest('until must be an offset');
    if (!(await this.#rooms.use(room))) throw new RealtimeError(RealtimeErrorCode.FORBIDDEN, 'too many rooms');
    // All of the (bounded) history, so that `until` can cut off what a subscription delivers live.
    const history = await this.#broker.history(roomChannel(room));
    const upTo = history.publications.filter((publication) => until === undefined || publication.offset <= until);
    const messages = upTo.slice(-limit).map(({ offset, data, time }) => ({ offset, data: data as ChatMessage, time }));
    const first = messages[0]?.offset ?? (until ?? history.latestOffset) + 1;
    return { room, epoch: history.epoch, offset: history.latestOffset, messages, hasEarlier: first > 1 };
  }

  /** People in a room: distinct nicknames among its presence members. */
  async #online(room: string): Promise<number> {
    const members: PresenceMember[] = await this.#broker.members(roomChannel(room));
    return new Set(members.map((member) => member.userId ?? member.clientId)).size;
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function badRequest(message: string): RealtimeError {
  return new RealtimeError(RealtimeErrorCode.BAD_REQUEST, message);
}
