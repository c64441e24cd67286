// permessage-deflate over node:zlib (RFC 7692 §7.2): one raw-deflate context per direction and
// connection, created on first use, reset after each message when "no context takeover" was
// agreed. Inflation stops as soon as a message passes its size limit (zip bombs end in 1009).
// Small messages run synchronously on the event loop (sync-zlib.ts): for them a thread-pool round
// trip costs several times the zlib work. Big ones go to the pool, so they cannot stall the loop,
// and so does inflation past a budget per turn of the loop (sync-zlib-budget.ts).

import zlib from 'node:zlib';
import { CloseCode } from '../protocol/close-codes.js';
import { LimitExceededError, PeerError } from '../protocol/errors.js';
import type { DeflateParams } from '../protocol/permessage-deflate.js';
import { SyncZlibOutput, syncZlibSupported, writeSync, type ZlibStream } from './sync-zlib.js';
import { spendSyncBudget, syncBudgetLeft } from './sync-zlib-budget.js';
import { unwatchIdleContexts, watchIdleContexts, type IdleContextHolder } from './idle-zlib-contexts.js';
import { zlibLimiter } from './work-limiter.js';

/** RFC 7692 §7.2.1: the sender drops this tail of a sync flush; the receiver appends it back. */
const SYNC_FLUSH_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const EMPTY = Buffer.alloc(0);

/** Compressed frames up to this size are inflated on the event loop… */
const SYNC_INFLATE_MAX_INPUT_BYTES = 16 * 1024;
/** …until their output passes this; the rest is inflated in the thread pool. */
const SYNC_INFLATE_OUTPUT_BUDGET_BYTES = 64 * 1024;
/** Messages up to this size are compressed on the event loop. */
const SYNC_DEFLATE_MAX_INPUT_BYTES = 8 * 1024;

export interface ZlibTuning {
  level?: number;
  memLevel?: number;
}

/** Who gets a decompressed frame: the socket driver, without a closure per frame. */
export interface InflateSink {
  inflateDone(error: PeerError | LimitExceededError | null, data: Buffer): void;
}

type DeflateDone = (error: Error | null, data: Buffer) => void;

/** Where synchronous inflation of a frame got to. */
type SyncInflateStep =
  | { kind: 'done'; data: Buffer }
  | { kind: 'tooBig'; bytes: number }
  | { kind: 'continue'; rest: Buffer[]; head: Buffer };

export class PerMessageDeflate implements IdleContextHolder {
  private inflater: zlib.InflateRaw | null = null;
  private deflater: zlib.DeflateRaw | null = null;
  /** When a context that keeps nothing between messages finished its last one (-1: in use, or none). */
  private inflaterIdleSince = -1;
  private deflaterIdleSince = -1;
  /** Thread-pool work is queued or running on that context: synchronous calls must wait their turn. */
  private inflateBusy = false;
  private deflateBusy = false;
  private closed = false;

  constructor(
    private readonly params: DeflateParams,
    private readonly isServer: boolean,
    private readonly tuning: ZlibTuning = {},
  ) {}

  /**
   * Decompresses one frame of a message; `maxBytes` is what the message may still grow by.
   * Returns true when `sink` has already been answered, false when the answer comes later.
   */
  inflate(payload: Buffer, fin: boolean, maxBytes: number, sink: InflateSink): boolean {
    if (this.closed) return false;
    const inputs = fin ? [payload, SYNC_FLUSH_TAIL] : [payload];
    if (this.inflateBusy || payload.length > SYNC_INFLATE_MAX_INPUT_BYTES || !syncBudgetLeft() || !syncZlibSupported()) {
      this.inflateLater(inputs, fin, maxBytes, sink, EMPTY);
      return false;
    }
    let step: SyncInflateStep;
    try {
      step = this.inflateNow(inputs, maxBytes);
    } catch (error) {
      this.dropInflater();
      sink.inflateDone(invalidData(error), EMPTY);
      return true;
    }
    switch (step.kind) {
      case 'done':
        if (fin && this.peerResetsContext()) this.inflaterDone();
        sink.inflateDone(null, step.data);
        return true;
      case 'tooBig':
        this.dropInflater();
        sink.inflateDone(new LimitExceededError('maxMessageBytes', maxBytes, step.bytes), EMPTY);
        return true;
      case 'continue':
        // A big message: the rest goes to the thread pool, with what came out so far.
        this.inflateLater(step.rest, fin, maxBytes, sink, step.head);
        return false;
      default:
        return assertNever(step);
    }
  }

  /** Inflates on the event loop until the frame is done, too big, or past the loop's budget. Throws on corrupt data. */
  private inflateNow(inputs: Buffer[], maxBytes: number): SyncInflateStep {
    const inflater = this.ensureInflater();
    const output = new SyncZlibOutput();
    const stopAfter = Math.min(maxBytes, SYNC_INFLATE_OUTPUT_BUDGET_BYTES);
    let retried = false;
    try {
      for (let i = 0; i < inputs.length; i++) {
        const input = inputs[i]!;
        const used = writeSync(inflater, input, zlib.constants.Z_SYNC_FLUSH, output, stopAfter);
        if (output.total > maxBytes) return { kind: 'tooBig', bytes: output.total };
        if (output.total > stopAfter) return { kind: 'continue', rest: [input.subarray(used), ...inputs.slice(i + 1)], head: output.take() };
        if (used === input.length) continue;
        // zlib stopped early: the peer ended its deflate stream with a BFINAL block (RFC 7692
        // §7.2.3.4). What follows starts a new stream, without the old window. Within this frame
        // what follows the end (at least the 00 00 ff ff we appended) means nothing, unless the
        // stream had already ended with the previous frame: then this frame is the new stream.
        inflater.reset();
        if (i > 0 || used > 0 || retried) break;
        retried = true;
        i--;
      }
      return { kind: 'done', data: output.take() };
    } finally {
      spendSyncBudget(output.total);
    }
  }

  /** Compresses one whole message; small ones are done before this returns. */
  deflate(data: Buffer, done: DeflateDone): void {
    if (this.closed) return done(closedError(), EMPTY);
    if (this.deflateBusy || data.length > SYNC_DEFLATE_MAX_INPUT_BYTES || !syncZlibSupported()) {
      return this.deflateLater(data, done);
    }
    const deflater = this.ensureDeflater();
    const output = new SyncZlibOutput();
    try {
      writeSync(deflater, data, zlib.constants.Z_SYNC_FLUSH, output, Infinity);
    } catch (error) {
      return done(error instanceof Error ? error : new Error(String(error)), EMPTY);
    }
    if (this.ownResetsContext()) this.deflaterDone();
    done(null, withoutTail(output.take()));
  }

  /** Frees both zlib contexts; pending work is dropped. */
  close(): void {
    this.closed = true;
    unwatchIdleContexts(this);
    this.dropInflater();
    this.dropDeflater();
  }

  /** Inflates `inputs` in the thread pool; `head` is output already produced for this frame. */
  private inflateLater(inputs: Buffer[], fin: boolean, maxBytes: number, sink: InflateSink, head: Buffer): void {
    this.inflateBusy = true;
    zlibLimiter.run((release) => {
      if (this.closed) return release();
      const inflater = this.ensureInflater();
      const chunks: Buffer[] = head.length > 0 ? [head] : [];
      let total = head.length;
      let finished = false;
      let streamEnded = false;
      const finish = (error: PeerError | LimitExceededError | null): void => {
        if (finished) return;
        finished = true;
        inflater.removeListener('data', onData);
        inflater.removeListener('error', onError);
        inflater.removeListener('end', onEnd);
        this.inflateBusy = false;
        release();
        if (error !== null) {
          this.dropInflater();
          return sink.inflateDone(error, EMPTY);
        }
        // The peer ended its deflate stream (BFINAL): the stream object is done, the next message
        // gets a fresh one. (Data after the final block in this frame is lost on this path.)
        if (streamEnded) this.dropInflater();
        else if (fin && this.peerResetsContext()) this.inflaterDone();
        sink.inflateDone(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
      };
      const onData = (chunk: Buffer): void => {
        total += chunk.length;
        if (total > maxBytes) finish(new LimitExceededError('maxMessageBytes', maxBytes, total));
        else chunks.push(chunk);
      };
      const onError = (error: Error): void => finish(invalidData(error));
      const onEnd = (): void => void (streamEnded = true);
      inflater.on('data', onData);
      inflater.on('error', onError);
      inflater.on('end', onEnd);
      for (const input of inputs) if (input.length > 0) inflater.write(input);
      inflater.flush(() => finish(null));
    });
  }

  private deflateLater(data: Buffer, done: DeflateDone): void {
    this.deflateBusy = true;
    zlibLimiter.run((release) => {
      if (this.closed) {
        release();
        return done(closedError(), EMPTY);
      }
      const deflater = this.ensureDeflater();
      const chunks: Buffer[] = [];
      const onData = (chunk: Buffer): void => void chunks.push(chunk);
      deflater.on('data', onData);
      deflater.write(data);
      deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        deflater.removeListener('data', onData);
        this.deflateBusy = false;
        release();
        if (this.closed) return done(closedError(), EMPTY);
        if (this.ownResetsContext()) this.deflaterDone();
        done(null, withoutTail(Buffer.concat(chunks)));
      });
    });
  }

  /** zlib contexts this connection holds now (0-2). */
  get heldContexts(): number {
    return (this.inflater === null ? 0 : 1) + (this.deflater === null ? 0 : 1);
  }

  releaseIdleContexts(idleBefore: number): boolean {
    if (this.inflaterIdleSince >= 0 && this.inflaterIdleSince <= idleBefore && !this.inflateBusy) this.dropInflater();
    if (this.deflaterIdleSince >= 0 && this.deflaterIdleSince <= idleBefore && !this.deflateBusy) this.dropDeflater();
    return this.inflaterIdleSince < 0 && this.deflaterIdleSince < 0;
  }

  /** A message ended on an inflater the peer resets each message: reset it, and free it if it stays idle. */
  private inflaterDone(): void {
    this.inflater?.reset();
    this.inflaterIdleSince = performance.now();
    watchIdleContexts(this);
  }

  private deflaterDone(): void {
    this.deflater?.reset();
    this.deflaterIdleSince = performance.now();
    watchIdleContexts(this);
  }

  private ensureInflater(): zlib.InflateRaw {
    this.inflaterIdleSince = -1;
    return (this.inflater ??= quiet(zlib.createInflateRaw({
      windowBits: this.isServer ? this.params.clientMaxWindowBits : this.params.serverMaxWindowBits,
    })));
  }

  private ensureDeflater(): zlib.DeflateRaw {
    this.deflaterIdleSince = -1;
    return (this.deflater ??= quiet(zlib.createDeflateRaw({
      windowBits: this.isServer ? this.params.serverMaxWindowBits : this.params.clientMaxWindowBits,
      level: this.tuning.level ?? zlib.constants.Z_DEFAULT_COMPRESSION,
      memLevel: this.tuning.memLevel ?? 8,
    })));
  }

  private dropInflater(): void {
    this.inflater?.close();
    this.inflater = null;
    this.inflaterIdleSince = -1;
  }

  private dropDeflater(): void {
    this.deflater?.close();
    this.deflater = null;
    this.deflaterIdleSince = -1;
  }

  /** The peer compresses without context takeover, so our inflater starts afresh each message. */
  private peerResetsContext(): boolean {
    return this.isServer ? this.params.clientNoContextTakeover : this.params.serverNoContextTakeover;
  }

  private ownResetsContext(): boolean {
    return this.isServer ? this.params.serverNoContextTakeover : this.params.clientNoContextTakeover;
  }
}

/** A zlib error during a synchronous call is also emitted on the stream later; the caller already has it. */
function quiet<T extends ZlibStream>(stream: T): T {
  stream.on('error', ignore);
  return stream;
}

function ignore(): void {}

/** RFC 7692 §7.2.1: a message's compressed bytes end without the sync flush tail; never empty. */
function withoutTail(output: Buffer): Buffer {
  if (output.length >= 4 && output[output.length - 4] === 0 && output[output.length - 3] === 0 &&
      output[output.length - 2] === 0xff && output[output.length - 1] === 0xff) {
    output = output.subarray(0, -4);
  }
  return output.length === 0 ? Buffer.from([0x00]) : output;
}

function invalidData(error: unknown): PeerError {
  const message = error instanceof Error ? error.message : String(error);
  return new PeerError(`invalid compressed data: ${message}`, CloseCode.INVALID_PAYLOAD);
}

function assertNever(value: never): never {
  throw new Error(`unexpected ${String(value)}`);
}

function closedError(): Error {
  return new Error('permessage-deflate closed');
}
