// Cleans the nickname a chat client picks with `?name=`: it is shown to every other client,
// so it must not carry control characters, bidi overrides that reverse text, or a novel.

/** Longest nickname, in user-perceived characters (grapheme clusters). */
export const MAX_CHAT_NAME_GRAPHEMES = 24;

// Cc/Cs/Co/Cn: controls, lone surrogates, private-use, unassigned. Cf (format) characters
// include the bidi overrides and zero-width spaces; the zero-width joiner stays for emoji.
const UNSAFE = /[\p{Cc}\p{Cs}\p{Co}\p{Cn}]|(?!\u200d)\p{Cf}/gu;
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The cleaned name, or '' when nothing printable is left (the caller picks a default). */
export function chatName(raw: string): string {
  const cleaned = raw.normalize('NFC').replace(UNSAFE, '').replace(/\s+/gu, ' ').trim();
  let name = '';
  let count = 0;
  for (const { segment } of segmenter.segment(cleaned)) {
    if (++count > MAX_CHAT_NAME_GRAPHEMES) break;
    name += segment;
  }
  return name.trim();
}
