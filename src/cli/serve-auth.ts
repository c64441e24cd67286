// The handshake authentication of `tidewire serve --auth-secret`: HMAC-signed tokens (format in
// token-signer.ts). An operator's own hooks come from --auth-module (serve-hooks-module.ts).

import type { Authenticate } from '../index.js';
import { TokenSigner } from './token-signer.js';

/** Accepts a token signed with `secret`; the session's userId is the token's. */
export function secretAuthenticate(secret: string): Authenticate {
  const signer = new TokenSigner(secret);
  return (_req, token) => {
    const userId = signer.verify(token);
    return userId === null ? null : { userId };
  };
}
