// Runs a persistent node:zlib stream synchronously on the event-loop thread, for the small
// messages of permessage-deflate: a thread-pool round trip costs tens of µs, far more than zlib's
// own work on a few hundred bytes. The stream keeps its zlib context across calls (context takeover).
//
// Node has no public API for this: zlib.*Sync() build a fresh context on every call, and a
// stream's own synchronous path, `_processChunk(chunk, flush)`, closes the native handle when it
// returns (Node 20's processChunkSync ends with _close()). So this calls what processChunkSync
// calls: the native handle's writeSync(flush, in, inOff, inLen, out, outOff, outLen), which leaves
// [availOutAfter, availInAfter] in the stream's `_writeState` (the same since Node 10). Both are
// undocumented: `syncZlibSupported()` checks them once against zlib's one-shot functions, and
// callers use the asynchronous stream API wherever it says no.

import zlib from 'node:zlib';

export type ZlibStream = zlib.InflateRaw | zlib.DeflateRaw;

interface NativeZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
}

interface ZlibStreamInternals {
  _handle?: NativeZlibHandle | null;
  _writeState?: unknown;
}

/** Output lands here first, so a message costs one right-sized copy (shared: every call is synchronous). */
const SCRATCH_BYTES = 64 * 1024;
let scratch: Buffer | null = null;

/** What a run of synchronous zlib calls produced: one scratch buffer, spilled into chunks when full. */
export class SyncZlibOutput {
  /** Bytes produced so far. */
  total = 0;
  private used = 0;
  private readonly spilled: Buffer[] = [];

  /** The buffer zlib writes into next, with room from `offset` on. */
  room(): Buffer {
    const buffer = (scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES));
    if (this.used === buffer.length) this.spill();
    return buffer;
  }

  get offset(): number {
    return this.used;
  }

  advance(bytes: number): void {
    this.used += bytes;
    this.total += bytes;
  }

  /** Everything produced, copied out of the scratch buffer (which the next run reuses). */
  take(): Buffer {
    this.spill();
    const chunks = this.spilled;
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.total);
  }

  /** Moves the scratch contents into a chunk of their own. */
  private spill(): void {
    if (this.used === 0) return;
    this.spilled.push(Buffer.from(scratch!.subarray(0, this.used)));
    this.used = 0;
  }
}

function writeState(stream: ZlibStream): Uint32Array | null {
  const state = (stream as unknown as ZlibStreamInternals)._writeState;
  return state instanceof Uint32Array && state.length >= 2 ? state : null;
}

/** True when `stream` exposes the native handle this module drives. */
function hasSyncHandle(stream: ZlibStream): boolean {
  const handle = (stream as unknown as ZlibStreamInternals)._handle;
  return typeof handle?.writeSync === 'function' && writeState(stream) !== null;
}

/**
 * Feeds `input` to `stream` and appends what comes out to `output`, until zlib wants more input
 * (or reached the end of a deflate stream), or `output` holds more than `stopAfterBytes`. Returns
 * how many bytes of `input` were consumed. Throws zlib's error on corrupt data; the stream is
 * then destroyed. The stream must not have asynchronous work in flight (the handle allows one
 * write at a time and aborts the process otherwise).
 */
export function writeSync(stream: ZlibStream, input: Uint8Array, flush: number, output: SyncZlibOutput, stopAfterBytes: number): number {
  const handle = (stream as unknown as ZlibStreamInternals)._handle;
  const state = writeState(stream);
  if (handle == null || state === null) throw new Error('zlib stream is closed');
  let inOff = 0;
  let inLen = input.length;
  for (;;) {
    const buffer = output.room();
    const offset = output.offset;
    const outLen = buffer.length - offset;
    handle.writeSync(flush, input, inOff, inLen, buffer, offset, outLen);
    // zlib reports errors by destroying the stream from inside writeSync.
    if (stream.destroyed) throw stream.errored ?? new Error('zlib stream is closed');
    const availOut = state[0]!;
    const availIn = state[1]!;
    output.advance(outLen - availOut);
    inOff += inLen - availIn;
    inLen = availIn;
    // Room left over means zlib has given all it can for this input.
    if (availOut !== 0 || output.total > stopAfterBytes) return inOff;
  }
}

let supported: boolean | null = null;

/** Whether writeSync() works on this Node: checked once, by a round trip against zlib's one-shot functions. */
export function syncZlibSupported(): boolean {
  return (supported ??= checkSyncZlib());
}

function checkSyncZlib(): boolean {
  const sample = Buffer.from('permessage-deflate '.repeat(20));
  const deflater = zlib.createDeflateRaw();
  const inflater = zlib.createInflateRaw();
  try {
    if (!hasSyncHandle(deflater) || !hasSyncHandle(inflater)) return false;
    const deflated = new SyncZlibOutput();
    writeSync(deflater, sample, zlib.constants.Z_SYNC_FLUSH, deflated, Infinity);
    const compressed = deflated.take();
    if (!zlib.inflateRawSync(compressed, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).equals(sample)) return false;
    const inflated = new SyncZlibOutput();
    writeSync(inflater, compressed, zlib.constants.Z_SYNC_FLUSH, inflated, Infinity);
    return inflated.take().equals(sample);
  } catch {
    return false;
  } finally {
    deflater.close();
    inflater.close();
  }
}
