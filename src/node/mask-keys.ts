// Mask keys for client frames (RFC 6455 §5.3: from a strong source of entropy), drawn from a
// pool refilled by the CSPRNG so a frame does not cost a system call.

import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 8 * 1024;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let position = POOL_BYTES;

export function nextMaskKey(): Uint8Array {
  if (position + 4 > POOL_BYTES) {
    randomFillSync(pool);
    position = 0;
  }
  const key = pool.subarray(position, position + 4);
  position += 4;
  return key;
}
