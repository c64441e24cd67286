// The bearer tokens of `tidewire serve --auth-secret`: `<userId>.<signature>`, the signature being
// base64url(HMAC-SHA256(secret, userId)). Signing and checking live here, in one place, so the
// `token` command mints exactly what `serve` accepts. Tokens do not expire: rotate the secret.

import { createHmac, timingSafeEqual } from 'node:crypto';

/** A user id the token format can carry: not empty, no dot (the separator), at most 200 characters. */
const USER_ID = /^[^.\s]{1,200}$/;

export class TokenSigner {
  private readonly secret: Buffer;

  constructor(secret: string) {
    if (secret.length < 16) throw new RangeError('the auth secret must be at least 16 characters long');
    this.secret = Buffer.from(secret, 'utf8');
  }

  /** `<userId>.<base64url HMAC-SHA256 of userId>`. Throws for a user id the format cannot carry. */
  sign(userId: string): string {
    if (!USER_ID.test(userId)) throw new RangeError(`a user id has 1 to 200 characters, no dot and no space; got "${userId}"`);
    return `${userId}.${this.signature(userId)}`;
  }

  /** The token's user id when its signature is right, else null. */
  verify(token: string | undefined): string | null {
    if (token === undefined) return null;
    const dot = token.indexOf('.');
    if (dot < 0) return null;
    const userId = token.slice(0, dot);
    if (!USER_ID.test(userId)) return null;
    // The encoded text is compared, not decoded bytes: base64url decoding skips stray characters.
    const given = Buffer.from(token.slice(dot + 1), 'utf8');
    const expected = Buffer.from(this.signature(userId), 'utf8');
    // timingSafeEqual needs equal lengths; a wrong length is already a wrong signature.
    if (given.length !== expected.length) return null;
    return timingSafeEqual(given, expected) ? userId : null;
  }

  private signature(userId: string): string {
    return createHmac('sha256', this.secret).update(userId, 'utf8').digest('base64url');
  }
}
