// What the application sees of a session: its id, who authenticated it, and where it came from.

export interface SessionInfo {
  /** Unique per connection; also the presence clientId and the `session` of the hello frame. */
  readonly id: string;
  /** From authenticate(); absent for anonymous sessions. */
  readonly userId?: string;
  /** From authenticate(): anything the application wants to keep with the session. */
  readonly info?: unknown;
  readonly remoteAddress?: string;
}
