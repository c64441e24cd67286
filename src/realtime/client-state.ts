// The client's connection states and the transitions between them (one table, checked on every change).

export const ClientState = {
  CONNECTING: 'connecting',
  CONNECTED: 'connected',
  DISCONNECTED: 'disconnected',
  CLOSED: 'closed',
} as const;
export type ClientState = (typeof ClientState)[keyof typeof ClientState];

/** What came with a state change. */
export interface StateInfo {
  /** connecting: attempts that failed since the last stable connection. */
  attempt?: number;
  /** connected: the session id from the server's hello. */
  session?: string;
  /** disconnected / closed: the close code (1006 when the connection failed or timed out) and reason. */
  code?: number;
  reason?: string;
  /** disconnected: the delay before the next attempt. */
  reconnectInMs?: number;
}

const TRANSITIONS: Readonly<Record<ClientState, readonly ClientState[]>> = {
  connecting: ['connected', 'disconnected', 'closed'],
  connected: ['disconnected', 'closed'],
  disconnected: ['connecting', 'closed'],
  closed: [],
};

export function canTransition(from: ClientState, to: ClientState): boolean {
  return TRANSITIONS[from].includes(to);
}
