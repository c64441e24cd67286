// Commander parsers for integer flags (--port, --max-message-bytes). They reject "12abc",
// "1e3" and out-of-range values at parse time, so a typo never turns silently into NaN or 0.

import { InvalidArgumentError } from 'commander';

/** A parser accepting decimal integers from `min` to `max` inclusive. */
export function integerOption(min: number, max: number): (value: string) => number {
  return (value) => {
    const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(number) || number < min || number > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${value}"`);
    }
    return number;
  };
}
