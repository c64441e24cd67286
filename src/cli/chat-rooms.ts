// The realtime chat's list of rooms: the default room plus the rooms people opened. Owner: the
// demo's ChatRealtime. Bound: MAX_CHAT_ROOMS. Overflow: a new room is refused (the page says so)
// once rooms that are empty and idle for ROOM_IDLE_MS have been forgotten and it is still full.

import { DEFAULT_ROOM } from './room-name.js';

/** Most rooms known at once, the default room included. */
export const MAX_CHAT_ROOMS = 50;
/** A room nobody is in and nobody used for this long leaves the list (its history expires in the broker on its own). */
export const ROOM_IDLE_MS = 60 * 60_000;

export interface RoomSummary {
  name: string;
  /** People in the room now (distinct nicknames). */
  online: number;
}

export class ChatRooms {
  /** Room name → last use (a subscribe, a publish, a history read), in ms. */
  readonly #lastUsed = new Map<string, number>();
  readonly #online: (room: string) => Promise<number>;
  readonly #now: () => number;

  /**
   * `online` counts the distinct people in a room (from the broker's presence);
   * `now` is injectable so a test can age rooms without waiting.
   */
  constructor(online: (room: string) => Promise<number>, now: () => number = Date.now) {
    this.#online = online;
    this.#now = now;
    this.#lastUsed.set(DEFAULT_ROOM, now());
  }

  /** Marks `room` used; a room not known yet is added if there is space. False: the list is full. */
  async use(room: string): Promise<boolean> {
    if (!this.#lastUsed.has(room)) {
      if (this.#lastUsed.size >= MAX_CHAT_ROOMS) await this.#forgetIdle();
      if (this.#lastUsed.size >= MAX_CHAT_ROOMS) return false;
    }
    this.#lastUsed.set(room, this.#now());
    return true;
  }

  /** Every room with its head count: the default room first, then the busiest, then by name. */
  async list(): Promise<RoomSummary[]> {
    await this.#forgetIdle();
    const rooms = await Promise.all([...this.#lastUsed.keys()].map(async (name) => ({ name, online: await this.#online(name) })));
    return rooms.sort((a, b) => rank(a) - rank(b) || b.online - a.online || a.name.localeCompare(b.name));
  }

  async #forgetIdle(): Promise<void> {
    const cutoff = this.#now() - ROOM_IDLE_MS;
    for (const [name, lastUsed] of [...this.#lastUsed]) {
      if (name === DEFAULT_ROOM || lastUsed > cutoff) continue;
      if ((await this.#online(name)) === 0) this.#lastUsed.delete(name);
      else this.#lastUsed.set(name, this.#now()); // people are in it: still in use
    }
  }
}

function rank(room: RoomSummary): number {
  return room.name === DEFAULT_ROOM ? 0 : 1;
}
