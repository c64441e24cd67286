// UTF-8 validation for text messages (RFC 6455 §8.1, RFC 3629 §4). Whole messages use the
// runtime's native check; fragmented ones are checked as they arrive, so a bad byte fails the
// connection at the fragment that carries it, not at the end of the message.

import { isUtf8 } from 'node:buffer';

export function isValidUtf8(bytes: Uint8Array): boolean {
  return bytes.length === 0 || isUtf8(bytes);
}

/** Length of the sequence a lead byte starts, or 0 when it cannot start one. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

export class Utf8Validator {
  /** Continuation bytes still expected by the sequence in progress. */
  private needed = 0;
  /** Allowed range of the next continuation byte (narrower after E0, ED, F0, F4). */
  private lower = 0x80;
  private upper = 0xbf;
  private failed = false;

  /** Checks the next piece of the message; false as soon as the bytes so far cannot be UTF-8. */
  push(bytes: Uint8Array): boolean {
    if (this.failed) return false;
    let i = 0;
    while (this.needed > 0 && i < bytes.length) {
      if (!this.step(bytes[i]!)) return this.fail();
      i++;
    }
    if (i === bytes.length) return true;
    const tailStart = this.incompleteTailStart(bytes, i);
    if (tailStart > i && !isUtf8(bytes.subarray(i, tailStart))) return this.fail();
    for (let j = tailStart; j < bytes.length; j++) {
      if (!this.step(bytes[j]!)) return this.fail();
    }
    return true;
  }

  /** The message is complete: no sequence may be left open. */
  end(): boolean {
    const complete = !this.failed && this.needed === 0;
    this.reset();
    return complete;
  }

  reset(): void {
    this.needed = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
    this.failed = false;
  }

  private fail(): false {
    this.failed = true;
    return false;
  }

  /** Where a multi-byte sequence starts that the piece cuts short (bytes.length when none). */
  private incompleteTailStart(bytes: Uint8Array, from: number): number {
    const end = bytes.length;
    for (let j = end - 1; j >= from && j >= end - 4; j--) {
      const byte = bytes[j]!;
      if ((byte & 0xc0) === 0x80) continue;
      const length = sequenceLength(byte);
      return length > end - j ? j : end;
    }
    return end;
  }

  /** One step of the RFC 3629 §4 grammar. */
  private step(byte: number): boolean {
    if (this.needed > 0) {
      if (byte < this.lower || byte > this.upper) return false;
      this.needed--;
      this.lower = 0x80;
      this.upper = 0xbf;
      return true;
    }
    const length = sequenceLength(byte);
    if (length === 0) return false;
    this.needed = length - 1;
    if (byte === 0xe0) this.lower = 0xa0;
    else if (byte === 0xed) this.upper = 0x9f;
    else if (byte === 0xf0) this.lower = 0x90;
    else if (byte === 0xf4) this.upper = 0x8f;
    return true;
  }
}
