// permessage-deflate over node:zlib (RFC 7692 §7.2): one raw-deflate context per direction and
// connection, created on first use, reset after each message when "no context takeover" was
// agreed. Inflation stops as soon as a message passes its size limit (zip bombs end in 1009).

import zlib from 'node:zlib';
import { CloseCode } from '../protocol/close-codes.js';
import { LimitExceededError, PeerError } from '../protocol/errors.js';
import type { DeflateParams } from '../protocol/permessage-deflate.js';
import { zlibLimiter } from './work-limiter.js';

/** RFC 7692 §7.2.1: the sender drops this tail of a sync flush; the receiver appends it back. */
const SYNC_FLUSH_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export interface ZlibTuning {
  level?: number;
  memLevel?: number;
}

type InflateDone = (error: PeerError | LimitExceededError | null, data: Buffer) => void;
type DeflateDone = (error: Error | null, data: Buffer) => void;

export class PerMessageDeflate {
  private inflater: zlib.InflateRaw | null = null;
  private deflater: zlib.DeflateRaw | null = null;
  private closed = false;

  constructor(
    private readonly params: DeflateParams,
    private readonly isServer: boolean,
    private readonly tuning: ZlibTuning = {},
  ) {}

  /** Decompresses one frame of a message; `maxBytes` is what the message may still grow by. */
  inflate(payload: Buffer, fin: boolean, maxBytes: number, done: InflateDone): void {
    zlibLimiter.run((release) => {
      if (this.closed) return release();
      const inflater = (this.inflater ??= zlib.createInflateRaw({
        windowBits: this.isServer ? this.params.clientMaxWindowBits : this.params.serverMaxWindowBits,
      }));
      const chunks: Buffer[] = [];
      let total = 0;
      let finished = false;
      const finish = (error: PeerError | LimitExceededError | null): void => {
        if (finished) return;
        finished = true;
        inflater.removeListener('data', onData);
        inflater.removeListener('error', onError);
        release();
        if (error !== null) {
          this.dropInflater();
          return done(error, Buffer.alloc(0));
        }
        if (fin && this.peerResetsContext()) inflater.reset();
        done(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
      };
      const onData = (chunk: Buffer): void => {
        total += chunk.length;
        if (total > maxBytes) finish(new LimitExceededError('maxMessageBytes', maxBytes, total));
        else chunks.push(chunk);
      };
      const onError = (error: Error): void => {
        finish(new PeerError(`invalid compressed data: ${error.message}`, CloseCode.INVALID_PAYLOAD));
      };
      inflater.on('data', onData);
      inflater.on('error', onError);
      inflater.write(payload);
      if (fin) inflater.write(SYNC_FLUSH_TAIL);
      inflater.flush(() => finish(null));
    });
  }

  /** Compresses one whole message. */
  deflate(data: Buffer, done: DeflateDone): void {
    zlibLimiter.run((release) => {
      if (this.closed) {
        release();
        return done(new Error('permessage-deflate closed'), Buffer.alloc(0));
      }
      const deflater = (this.deflater ??= zlib.createDeflateRaw({
        windowBits: this.isServer ? this.params.serverMaxWindowBits : this.params.clientMaxWindowBits,
        level: this.tuning.level ?? zlib.constants.Z_DEFAULT_COMPRESSION,
        memLevel: this.tuning.memLevel ?? 8,
      }));
      const chunks: Buffer[] = [];
      const onData = (chunk: Buffer): void => void chunks.push(chunk);
      deflater.on('data', onData);
      deflater.write(data);
      deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        deflater.removeListener('data', onData);
        release();
        if (this.closed) return done(new Error('permessage-deflate closed'), Buffer.alloc(0));
        let output = Buffer.concat(chunks);
        if (output.length >= 4 && output.subarray(-4).equals(SYNC_FLUSH_TAIL)) output = output.subarray(0, -4);
        if (this.ownResetsContext()) deflater.reset();
        done(null, output.length === 0 ? Buffer.from([0x00]) : output);
      });
    });
  }

  /** Frees both zlib contexts; pending work is dropped. */
  close(): void {
    this.closed = true;
    this.dropInflater();
    this.deflater?.close();
    this.deflater = null;
  }

  private dropInflater(): void {
    this.inflater?.close();
    this.inflater = null;
  }

  /** The peer compresses without context takeover, so our inflater starts afresh each message. */
  private peerResetsContext(): boolean {
    return this.isServer ? this.params.clientNoContextTakeover : this.params.serverNoContextTakeover;
  }

  private ownResetsContext(): boolean {
    return this.isServer ? this.params.serverNoContextTakeover : this.params.clientNoContextTakeover;
  }
}
