// The handshake authentication of `tidewire serve`: HMAC-signed tokens (--auth-secret, format in
// token-signer.ts). An operator's own hook module (--auth-module) needs an import() with a computed
// specifier, which test/architecture.test.ts refuses under src/: left to the lead's decision.

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
