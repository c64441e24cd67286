// Where a channel lives in Redis: its keys and pub/sub topics, all under one key prefix. Every key
// of a channel carries the channel as its hash tag ({…}), so one channel's keys share a Redis
// Cluster slot and a script may touch them all. The tag escapes %, { and }, so that the first }
// always closes it: two channels never share a key, whatever their names or publish ids.

/** The keys and topics of one channel. */
export interface ChannelKeys {
  /** Hash { epoch, offset, time }: the epoch, the latest offset and the latest append time. */
  readonly meta: string;
  /** Stream of the retained publications, entry id `0-<offset>`, fields t (time) and m (payload). */
  readonly stream: string;
  /** Hash clientId → encoded member. */
  readonly presenceMembers: string;
  /** Sorted set clientId → expiry time (ms), so expired members are found by score. */
  readonly presenceExpiry: string;
  /** Pub/sub topic of live publications (the same payload as the stream's m field). */
  readonly publicationTopic: string;
  /** Pub/sub topic of presence events ('j' or 'l', then the encoded member). */
  readonly presenceTopic: string;
  /** The key that remembers the first result of a publish id (a string "epoch offset" with a TTL). */
  dedup(pid: string): string;
}

export function channelKeys(keyPrefix: string, channel: string): ChannelKeys {
  const base = `${keyPrefix}{${escapeTag(channel)}}:`;
  return {
    meta: `${base}meta`,
    stream: `${base}stream`,
    presenceMembers: `${base}presence`,
    presenceExpiry: `${base}presence-expiry`,
    publicationTopic: `${base}publications`,
    presenceTopic: `${base}presence-events`,
    dedup: (pid) => `${base}pid:${pid}`,
  };
}

/** A glob (SCAN MATCH, KEYS) for every key under `keyPrefix`, with glob characters escaped. */
export function keyPattern(keyPrefix: string): string {
  return `${keyPrefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
}

function escapeTag(channel: string): string {
  return channel.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
