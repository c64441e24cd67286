// One channel's presence events on this node. Pub/sub does not keep what it could not deliver: the
// joins and leaves published while this node's subscriber connection was down are gone. So the feed
// keeps the members as its listeners have been told them, and after a resubscribe it reads the
// members from Redis and tells the listeners the difference, as ordinary join and leave events.

import type { PresenceEvent } from '../../realtime/broker.js';
import type { PresenceMember } from '../../realtime/envelope.js';
import { ListenerSet } from '../../realtime/listener-set.js';
import type { Feed } from './feed-registry.js';
import { decodePresenceEvent } from './redis-codec.js';

export class PresenceFeed implements Feed {
  readonly listeners: ListenerSet<PresenceEvent>;
  /** clientId → member, as the listeners know them: read when the feed starts, kept by the events since. */
  private readonly known = new Map<string, PresenceMember>();
  /** Members a live event changed while a read of the members was under way: that event is newer news than the read. */
  private changedDuringRead: Set<string> | null = null;
  /** Only the latest read applies (a second resubscribe may start one before the first is back). */
  private reads = 0;
  private closed = false;

  constructor(
    private readonly channel: string,
    private readonly readMembers: () => Promise<PresenceMember[]>,
    private readonly onListenerError: (error: unknown) => void,
  ) {
    this.listeners = new ListenerSet(onListenerError);
  }

  get size(): number {
    return this.listeners.size;
  }

  /** The members before the first listener hears anything: what later resyncs compare against. */
  async start(): Promise<void> {
    await this.resync(false);
  }

  onMessage(payload: Buffer): void {
    let event: PresenceEvent;
    try {
      event = decodePresenceEvent(this.channel, payload);
    } catch (error) {
      this.onListenerError(error);
      return;
    }
    const { clientId } = event.member;
    if (event.type === 'join') this.known.set(clientId, event.member);
    else this.known.delete(clientId);
    this.changedDuringRead?.add(clientId);
    this.listeners.emit(event);
  }

  onResubscribed(): void {
    this.resync(true).catch((error: unknown) => {
      // Redis went away again: the next resubscribe reads once more.
      this.onListenerError(new Error(`presence of channel ${this.channel}: reading the members after a reconnect failed (${String(error)})`));
    });
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
  }

  /** Reads the members and makes `known` match them; with `emitChanges`, tells the listeners what changed. */
  private async resync(emitChanges: boolean): Promise<void> {
    const read = ++this.reads;
    const changed = new Set<string>();
    this.changedDuringRead = changed;
    let members: PresenceMember[];
    try {
      members = await this.readMembers();
    } finally {
      if (this.changedDuringRead === changed) this.changedDuringRead = null;
    }
    if (this.closed || read !== this.reads) return;
    const present = new Set<string>();
    for (const member of members) {
      present.add(member.clientId);
      if (changed.has(member.clientId)) continue;
      const joined = !this.known.has(member.clientId);
      this.known.set(member.clientId, member);
      if (joined && emitChanges) this.listeners.emit({ type: 'join', channel: this.channel, member });
    }
    for (const [clientId, member] of this.known) {
      if (present.has(clientId) || changed.has(clientId)) continue;
      this.known.delete(clientId);
      if (emitChanges) this.listeners.emit({ type: 'leave', channel: this.channel, member });
    }
  }
}
