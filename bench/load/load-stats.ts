// What the Node load generator's workers count and send to the coordinator: counters, a
// logarithmic latency histogram that merges by addition, and the messages between the threads.

/** Buckets grow by 5 %: bucket i holds latencies up to 1.05^(i+1) µs (about 2 hours at the top). */
const GROWTH = Math.log(1.05);
export const HISTOGRAM_BUCKETS = 500;

export function histogramAdd(histogram: Float64Array, latencyUs: number): void {
  const index = Math.min(HISTOGRAM_BUCKETS - 1, Math.max(0, Math.floor(Math.log(latencyUs + 1) / GROWTH)));
  histogram[index]! += 1;
}

/** The p-quantile in µs (upper edge of its bucket); 0 when empty. */
export function histogramQuantile(histogram: Float64Array, p: number): number {
  let total = 0;
  for (const count of histogram) total += count;
  if (total === 0) return 0;
  const rank = Math.ceil(p * total);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i]!;
    if (seen >= rank) return Math.exp((i + 1) * GROWTH) - 1;
  }
  return Math.exp(HISTOGRAM_BUCKETS * GROWTH);
}

export interface WorkerCounts {
  open: number;
  connectFailures: number;
  connErrors: number;
  verifyFailures: number;
  protocolErrors: number;
  /** Echo: messages and bytes counted while measuring. Fanout: deliveries. */
  msgs: number;
  bytes: number;
  histogram: Float64Array;
}

export function emptyCounts(): WorkerCounts {
  return { open: 0, connectFailures: 0, connErrors: 0, verifyFailures: 0, protocolErrors: 0, msgs: 0, bytes: 0, histogram: new Float64Array(HISTOGRAM_BUCKETS) };
}

export function addCounts(into: WorkerCounts, more: WorkerCounts): void {
  into.open += more.open;
  into.connectFailures += more.connectFailures;
  into.connErrors += more.connErrors;
  into.verifyFailures += more.verifyFailures;
  into.protocolErrors += more.protocolErrors;
  into.msgs += more.msgs;
  into.bytes += more.bytes;
  for (let i = 0; i < into.histogram.length; i++) into.histogram[i]! += more.histogram[i]!;
}

export type LoadMode = 'echo' | 'raw' | 'idle' | 'fanout';
export type PayloadKind = 'binary' | 'text' | 'json';

/** What one worker is told to do (its share of the connections). */
export interface WorkerConfig {
  mode: LoadMode;
  host: string;
  port: number;
  firstId: number;
  count: number;
  depth: number;
  size: number;
  payload: PayloadKind;
  deflate: boolean;
  check: boolean;
  nsrc: number;
  window: number;
  /** Fanout: this worker also runs the publisher. */
  hostsPublisher: boolean;
  msgs: number;
}

/** Coordinator to worker. */
export type ToWorker =
  | { t: 'measure' }
  | { t: 'stop' }
  | { t: 'report' }
  | { t: 'connect-publisher' }
  | { t: 'publish'; k: number };

/** Worker to coordinator. Times are process.hrtime.bigint() in ns as numbers (one clock for all threads). */
export type FromWorker =
  | { t: 'ready'; open: number; failed: number; firstConnectNs: number; lastReadyNs: number }
  | { t: 'publisher-ready'; ok: boolean }
  | { t: 'fanout-done'; k: number; firstNs: number; allNs: number }
  | { t: 'report'; counts: WorkerCounts; stillOpen: number }
  | { t: 'stopped'; counts: WorkerCounts };

export function nowNs(): number {
  return Number(process.hrtime.bigint());
}
