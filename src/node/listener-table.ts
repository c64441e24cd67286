// The table EventEmitter's methods keep a WebSocket's ws-style listeners in (`_events`). EventEmitter
// would create a dictionary-mode object (`{ __proto__: null }`) per emitter; this one has fast
// fields for the events a WebSocket emits, and still no prototype chain an event name could hit.

type Table = Record<string | symbol, unknown>;

/** Creates the table with every WebSocket event present and undefined (EventEmitter reads undefined as "no listener"). */
const ListenerTable = function ListenerTable(this: Table): void {
  this.message = undefined;
  this.close = undefined;
  this.error = undefined;
  this.open = undefined;
  this.ping = undefined;
  this.pong = undefined;
  this.drain = undefined;
} as unknown as new () => Table;
ListenerTable.prototype = Object.create(null) as object;

export function newListenerTable(): Table {
  return new ListenerTable();
}
