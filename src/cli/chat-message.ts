// What a message in a realtime chat room is, and the server's check of it before it is published
// (canPublish): the page publishes it through the messaging layer, so the server cannot rewrite it,
// only refuse it. The sender's name must be the session's own, so nobody writes as someone else.

import { MAX_CHAT_TEXT_LENGTH } from './chat-room.js';

/** The payload of every publication in a `room:<name>` channel. */
export interface ChatMessage {
  /** Chosen by the sending page (letters, digits, `_`, `-`): matches its pending entry to the publication. */
  id: string;
  /** The sender's nickname: the session's userId. */
  from: string;
  text: string;
  /** When it was written, in ms since the Unix epoch, by the sender's clock (a message written offline keeps its time). */
  at: number;
}

const KEYS = ['at', 'from', 'id', 'text'] as const;
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;
// Controls other than newline and tab, and lone surrogates (in u-mode \p{Cs} matches only unpaired halves).
const UNSAFE_TEXT = /(?![\n\t])\p{Cc}|\p{Cs}/u;

/** Why `data` is not a message `userId` may publish, or undefined when it is one. */
export function chatMessageProblem(data: unknown, userId: string | undefined): string | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'must be an object';
  const keys = Object.keys(data).sort();
  if (keys.length !== KEYS.length || keys.some((key, index) => key !== KEYS[index])) return `must have exactly the fields ${KEYS.join(', ')}`;
  const { id, from, text, at } = data as Record<string, unknown>;
  if (typeof id !== 'string' || !MESSAGE_ID.test(id)) return 'id must be 1 to 64 letters, digits, "_" or "-"';
  if (userId === undefined || from !== userId) return 'from must be your own nickname';
  if (typeof text !== 'string' || text.trim() === '') return 'text must be a non-empty string';
  if (text.length > MAX_CHAT_TEXT_LENGTH) return `text must be at most ${MAX_CHAT_TEXT_LENGTH} characters`;
  if (UNSAFE_TEXT.test(text)) return 'text must not contain control characters';
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) return 'at must be a time in ms';
  return undefined;
}
