// Bounds the output that synchronous inflation produces in one turn of the event loop, across all
// connections. A compressed frame can inflate to about 1,000 times its size, so without this one
// socket read of small frames could hold the loop for tens of ms. Past the budget, frames go to the
// thread pool until the next turn, where each connection has one frame in flight at a time.

const TURN_BUDGET_BYTES = 2 * 1024 * 1024;

let spentBytes = 0;
let resetScheduled = false;

/** Whether synchronous inflation may go on in this turn. */
export function syncBudgetLeft(): boolean {
  return spentBytes < TURN_BUDGET_BYTES;
}

/** Counts output produced synchronously; the count starts afresh after this turn's I/O. */
export function spendSyncBudget(bytes: number): void {
  spentBytes += bytes;
  if (resetScheduled) return;
  resetScheduled = true;
  setImmediate(resetBudget);
}

function resetBudget(): void {
  spentBytes = 0;
  resetScheduled = false;
}
