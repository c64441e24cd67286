// Chat room names for the demo's realtime chat: short, lowercase, URL- and channel-safe slugs, so
// that a room shows the same everywhere (list, heading, `#hash`) and maps to one channel `room:<name>`.

/** The room every page joins first. */
export const DEFAULT_ROOM = 'lobby';
/** Longest room name, in characters (all ASCII). */
export const MAX_ROOM_NAME_LENGTH = 32;
/** Channels of chat rooms are `room:<name>`. */
export const ROOM_CHANNEL_PREFIX = 'room:';

const ROOM_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/**
 * The slug of a requested room name: lowercased, accents dropped, spaces and underscores turned
 * into dashes, anything else removed, at most 32 characters; '' when nothing is left. The page
 * (web/chat.js) applies the same rules before joining; the server accepts only names already clean.
 */
export function roomName(raw: string): string {
  return raw
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[\s_]+/g, '-')
    .replace(/[^a-z0-9-]/g, '')
    .replace(/-{2,}/g, '-')
    .replace(/^-+/, '')
    .slice(0, MAX_ROOM_NAME_LENGTH)
    .replace(/-+$/, '');
}

/** True for a name roomName() leaves as it is. */
export function isRoomName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= MAX_ROOM_NAME_LENGTH && ROOM_NAME.test(name);
}

export function roomChannel(name: string): string {
  return `${ROOM_CHANNEL_PREFIX}${name}`;
}

/** The room of a `room:<name>` channel, or undefined for any other channel. */
export function roomOfChannel(channel: string): string | undefined {
  if (!channel.startsWith(ROOM_CHANNEL_PREFIX)) return undefined;
  const name = channel.slice(ROOM_CHANNEL_PREFIX.length);
  return isRoomName(name) ? name : undefined;
}
