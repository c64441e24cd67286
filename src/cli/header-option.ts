// Parser for repeated `-H 'Name: value'` flags of `tidewire connect`, like curl's.

import { InvalidArgumentError } from 'commander';

/** RFC 9110 §5.1: a field name is a token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Adds one `Name: value` header to the headers collected so far (repeated names are joined with ", "). */
export function headerOption(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const colon = value.indexOf(':');
  const name = colon < 0 ? '' : value.slice(0, colon).trim();
  const fieldValue = value.slice(colon + 1).trim();
  if (!TOKEN.test(name)) throw new InvalidArgumentError(`expected "Name: value", got "${value}"`);
  // Control characters would let a header value smuggle in another header line.
  if (/[\0-\x08\x0a-\x1f\x7f]/.test(fieldValue)) throw new InvalidArgumentError(`control character in header "${name}"`);
  const key = name.toLowerCase();
  const headers = { ...previous };
  headers[key] = headers[key] === undefined ? fieldValue : `${headers[key]}, ${fieldValue}`;
  return headers;
}
