// Output buffers that come back once the socket has written them. A connection that echoes or
// streams mid-sized frames fills tens of KiB per tick; allocating that afresh each time is cheap
// in itself, but the stream of short-lived external memory makes V8 scavenge several times as
// often (echo 4 KiB spent ~15 % of its time in GC). Reusing the buffers removes that churn.

/** The size of every pooled buffer: Node reads at most 64 KiB at a time, so one read's replies fit. */
const POOLED_BUFFER_BYTES = 64 * 1024;
/** Idle buffers kept for reuse (2 MiB); more are left to the GC. */
const MAX_IDLE_BUFFERS = 32;

const idle: Buffer[] = [];

export function takeWriteBuffer(): Buffer {
  return idle.pop() ?? Buffer.allocUnsafeSlow(POOLED_BUFFER_BYTES);
}

/** An idle pooled buffer, or undefined: for callers that would rather allocate what they need than 64 KiB. */
export function takeIdleWriteBuffer(): Buffer | undefined {
  return idle.pop();
}

/** Only for a buffer from takeWriteBuffer() that no pending write still refers to. */
export function returnWriteBuffer(buffer: Buffer): void {
  if (idle.length < MAX_IDLE_BUFFERS) idle.push(buffer);
}
