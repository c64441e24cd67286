// Several messages framed once, back to back in one buffer, for many server-side connections:
// a subscriber gets a burst of publications as one write of bytes that were made once.

export { prepareMessages } from '../node/prepared-message.js';
