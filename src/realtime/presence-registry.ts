// Who is present in each channel, in one process: members with a time to live (another join
// refreshes it), and join/leave events to presence listeners. Bounds: a member expires ttlMs after
// its last join, with a leave event; a channel's entry goes once it has no members and no listeners.

import type { PresenceEvent } from './broker.js';
import type { PresenceMember } from './envelope.js';
import { ListenerSet } from './listener-set.js';

interface MemberEntry {
  member: PresenceMember;
  expiresAt: number;
}

interface PresenceChannel {
  /** By clientId, in join order. */
  readonly members: Map<string, MemberEntry>;
  readonly listeners: ListenerSet<PresenceEvent>;
}

export class PresenceRegistry {
  private readonly channels = new Map<string, PresenceChannel>();
  /** Never later than the earliest expiry of any member: sweep() scans only once it is due. */
  private nextExpiryAt = Number.POSITIVE_INFINITY;
  private memberCount = 0;

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  get stats(): { channels: number; members: number } {
    return { channels: this.channels.size, members: this.memberCount };
  }

  /** Adds `member` (a join event) or refreshes it (no event) until now + ttlMs. */
  join(channel: string, member: PresenceMember, ttlMs: number, now: number): void {
    const entry = this.channelEntry(channel);
    const expiresAt = now + ttlMs;
    const stored = copyMember(member);
    const existing = entry.members.get(member.clientId);
    if (existing !== undefined) {
      existing.member = stored;
      existing.expiresAt = expiresAt;
      return;
    }
    entry.members.set(member.clientId, { member: stored, expiresAt });
    this.memberCount += 1;
    this.nextExpiryAt = Math.min(this.nextExpiryAt, expiresAt);
    entry.listeners.emit({ type: 'join', channel, member: stored });
  }

  /** Removes the member with `clientId` (a leave event); unknown ones are ignored. */
  leave(channel: string, clientId: string): void {
    const entry = this.channels.get(channel);
    const existing = entry?.members.get(clientId);
    if (entry === undefined || existing === undefined) return;
    this.remove(channel, entry, clientId, existing);
  }

  members(channel: string): PresenceMember[] {
    const entry = this.channels.get(channel);
    return entry === undefined ? [] : [...entry.members.values()].map((m) => m.member);
  }

  /** Join and leave events of `channel` from now on; the returned function stops them. */
  subscribe(channel: string, onEvent: (event: PresenceEvent) => void): () => void {
    const entry = this.channelEntry(channel);
    const remove = entry.listeners.add(onEvent);
    return () => {
      remove();
      this.dropIfEmpty(channel, entry);
    };
  }

  /** Expires members whose time to live ran out at `now`, each with a leave event. */
  sweep(now: number): void {
    if (now < this.nextExpiryAt) return;
    let next = Number.POSITIVE_INFINITY;
    for (const [channel, entry] of this.channels) {
      for (const [clientId, memberEntry] of entry.members) {
        if (now >= memberEntry.expiresAt) this.remove(channel, entry, clientId, memberEntry);
        else next = Math.min(next, memberEntry.expiresAt);
      }
    }
    this.nextExpiryAt = next;
  }

  clear(): void {
    for (const entry of this.channels.values()) entry.listeners.clear();
    this.channels.clear();
    this.memberCount = 0;
    this.nextExpiryAt = Number.POSITIVE_INFINITY;
  }

  private remove(channel: string, entry: PresenceChannel, clientId: string, memberEntry: MemberEntry): void {
    entry.members.delete(clientId);
    this.memberCount -= 1;
    entry.listeners.emit({ type: 'leave', channel, member: memberEntry.member });
    this.dropIfEmpty(channel, entry);
  }

  private channelEntry(channel: string): PresenceChannel {
    let entry = this.channels.get(channel);
    if (entry === undefined) {
      entry = { members: new Map(), listeners: new ListenerSet(this.onListenerError) };
      this.channels.set(channel, entry);
    }
    return entry;
  }

  private dropIfEmpty(channel: string, entry: PresenceChannel): void {
    if (entry.members.size === 0 && entry.listeners.size === 0 && this.channels.get(channel) === entry) {
      this.channels.delete(channel);
    }
  }
}

function copyMember(member: PresenceMember): PresenceMember {
  const copy: PresenceMember = { clientId: member.clientId };
  if (member.userId !== undefined) copy.userId = member.userId;
  if (member.info !== undefined) copy.info = member.info;
  return copy;
}
