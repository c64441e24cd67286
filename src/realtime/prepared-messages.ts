// Several messages framed once, back to back in one buffer, for many server-side connections:
// a subscriber gets a burst of publications as one write of bytes that were made once.

import { prepareMessage, type PreparedMessage } from '../node/prepared-message.js';

/** Each message framed (text for strings, binary for bytes), the frames concatenated in order. */
export function prepareMessages(messages: readonly (string | Uint8Array)[]): PreparedMessage {
  const chunks: Buffer[] = [];
  let payloadBytes = 0;
  for (const message of messages) {
    const prepared = prepareMessage(message, typeof message !== 'string');
    chunks.push(...prepared.chunks);
    payloadBytes += prepared.payloadBytes;
  }
  return { chunks: [Buffer.concat(chunks)], payloadBytes };
}
