// How `tidewire connect` prints a received message: text as is, binary as a size and a hex
// preview (a binary frame may be megabytes; the terminal gets the first bytes only).

/** Bytes shown in the hex preview of a binary message. */
export const HEX_PREVIEW_BYTES = 32;

/** `< text`, or `< [binary N bytes] 0a 1b …` for binary data. */
export function formatMessage(data: Buffer, isBinary: boolean): string {
  if (!isBinary) return `< ${data.toString('utf8')}`;
  const preview = data.subarray(0, HEX_PREVIEW_BYTES).toString('hex').replace(/(..)(?!$)/g, '$1 ');
  const more = data.length > HEX_PREVIEW_BYTES ? ' …' : '';
  const unit = data.length === 1 ? 'byte' : 'bytes';
  return `< [binary ${data.length} ${unit}]${preview === '' ? '' : ' '}${preview}${more}`;
}
