// zlib contexts that carry nothing from one message to the next (no context takeover) are freed
// once idle. A compressing connection holds about 300 KB of zlib state with the default settings;
// on a server with many mostly quiet connections that state, not the sockets, is the memory bill.
// One unref'd timer for the whole process looks at the contexts waiting to be freed.

/** A context is freed after this long without a message. */
export const IDLE_CONTEXT_RELEASE_MS = 1000;

export interface IdleContextHolder {
  /** Frees what has been idle since before `idleBefore`; true when nothing idle is left to watch. */
  releaseIdleContexts(idleBefore: number): boolean;
}

const watched = new Set<IdleContextHolder>();
let timer: NodeJS.Timeout | null = null;

export function watchIdleContexts(holder: IdleContextHolder): void {
  watched.add(holder);
  if (timer !== null) return;
  timer = setInterval(sweep, IDLE_CONTEXT_RELEASE_MS);
  timer.unref();
}

export function unwatchIdleContexts(holder: IdleContextHolder): void {
  watched.delete(holder);
  if (watched.size === 0) stop();
}

function sweep(): void {
  const idleBefore = performance.now() - IDLE_CONTEXT_RELEASE_MS;
  for (const holder of watched) if (holder.releaseIdleContexts(idleBefore)) watched.delete(holder);
  if (watched.size === 0) stop();
}

function stop(): void {
  if (timer !== null) clearInterval(timer);
  timer = null;
}
