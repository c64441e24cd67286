// What a channel name may be (docs/protocol.md, "Channel names"): 1..256 UTF-16 code units of
// well-formed Unicode with no control characters. One check for the decoder, server and client.

import { EnvelopeLimits } from './envelope-limits.js';

/** C0/C1 controls and DEL (\p{Cc}) and lone surrogates (\p{Cs} matches only unpaired halves in u-mode). */
const FORBIDDEN_CHARACTER = /[\p{Cc}\p{Cs}]/u;

/** Why `name` is not a valid channel name, or undefined when it is one. */
export function channelNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'must be a string';
  if (name.length === 0) return 'must not be empty';
  if (name.length > EnvelopeLimits.maxChannelNameLength) {
    return `must be at most ${EnvelopeLimits.maxChannelNameLength} characters (got ${name.length})`;
  }
  if (FORBIDDEN_CHARACTER.test(name)) return 'must not contain control characters or lone surrogates';
  return undefined;
}

export function isChannelName(name: unknown): name is string {
  return channelNameProblem(name) === undefined;
}
