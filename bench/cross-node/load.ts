// Load side of the cross-node fan-out benchmark (started by bench/cross-node/run.ts, pinned to
// core 1): one publisher (tidewire's RealtimeClient) on --publish-url, N subscribers (minimal
// RFC 6455 sockets speaking the tidewire.v1.json envelope) spread round robin over --sub-urls,
// all subscribed to --channel. Each published message carries { seq, t } with t its send time
// (performance.timeOrigin + performance.now() in this process, so subscriber clocks agree).
// Checks that every subscriber got every message once, in order. Prints one JSON line
// (CrossNodeLoadResult) on stdout.
//
//   node --import tsx bench/cross-node/load.ts --publish-url ws://… --sub-urls ws://…,ws://…
//        --channel fan-x [--subscribers 2000] [--messages 200] [--timeout-ms 120000]

import { rawConnect } from '../shared/raw-websocket.js';
import { parseArgs } from 'node:util';
import { RealtimeClient, WebSocket } from '../../src/index.js';
import { busyBetween, coreTimes } from '../shared/core-busy.js';

export interface CrossNodeLoadResult {
  subscribers: number;
  messages: number;
  /** Deliveries counted (should be subscribers × messages). */
  deliveries: number;
  complete: boolean;
  /** Subscribers that got a message twice, out of order, or not all of them. */
  badSubscribers: number;
  /** From the first publish (its send time) to the last delivery. */
  elapsedMs: number;
  deliveriesPerSecond: number;
  /** End-to-end latency (publish call → subscriber's socket parsed it), ms. */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** All publishes acknowledged, ms after the first one. */
  publishAckMs: number;
  connectMs: number;
  /**
   * Busy share (0–1) of each core from /proc/stat between the first publish and the last delivery
   * (Linux only, else null): core 0 carries the server nodes, core 1 this load process.
   */
  coreBusy: number[] | null;
  errors: string[];
}

export interface CrossNodeLoadOptions {
  publishUrl: string;
  subUrls: string[];
  channel: string;
  subscribers: number;
  messages: number;
  timeoutMs: number;
}

const CONNECT_CONCURRENCY = 100;
const now = (): number => performance.timeOrigin + performance.now();

class Ledger {
  readonly next: Int32Array;
  readonly bad: Uint8Array;
  readonly latencies: Float64Array;
  deliveries = 0;
  lastDelivery = 0;
  errors: string[] = [];
  onAll: (() => void) | null = null;
  constructor(readonly subscribers: number, readonly messages: number) {
    this.next = new Int32Array(subscribers);
    this.bad = new Uint8Array(subscribers);
    this.latencies = new Float64Array(subscribers * messages);
  }
  deliver(index: number, data: { seq?: unknown; t?: unknown } | undefined): void {
    const at = now();
    const seq = data?.seq;
    if (seq !== this.next[index]) {
      this.bad[index] = 1;
      this.error(`subscriber ${index}: got seq ${String(seq)}, expected ${this.next[index]}`);
    }
    this.next[index] = (typeof seq === 'number' ? seq : this.next[index]!) + 1;
    if (this.deliveries < this.latencies.length && typeof data?.t === 'number') this.latencies[this.deliveries] = at - data.t;
    this.deliveries++;
    this.lastDelivery = at;
    if (this.deliveries === this.subscribers * this.messages) this.onAll?.();
  }
  error(message: string): void {
    if (this.errors.length < 20) this.errors.push(message);
  }
}

interface Subscriber {
  close(): void;
}

/** A raw subscriber: handshake, wait for hello, sub, resolve on its result; pubs go to the ledger. */
function subscribe(url: string, channel: string, ledger: Ledger, index: number): Promise<Subscriber> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    let subscribed = false;
    const subscriber = rawConnect({
      host: hostname,
      port: Number(port),
      path: pathname,
      protocol: 'tidewire.v1.json',
      onText: (text, send) => {
        const frame = JSON.parse(text) as { t: string; id?: number; data?: { seq?: unknown; t?: unknown }; error?: unknown };
        if (frame.t === 'pub') ledger.deliver(index, frame.data);
        else if (frame.t === 'hello') send(JSON.stringify({ t: 'sub', id: 1, channel }));
        else if (frame.t === 'result' && frame.id === 1) {
          subscribed = true;
          resolve(subscriber);
        } else if (frame.t === 'ping') send(JSON.stringify({ t: 'pong' }));
        else if (frame.t === 'error') subscriber.fail(`error frame: ${JSON.stringify(frame.error)}`);
      },
      onClose: (why) => {
        if (subscribed) ledger.error(`subscriber ${index}: ${why}`);
        else reject(new Error(`subscriber ${index}: ${why}`));
      },
    });
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export async function runCrossNodeLoad(options: CrossNodeLoadOptions): Promise<CrossNodeLoadResult> {
  const { subscribers: n, messages: m } = options;
  const ledger = new Ledger(n, m);
  const subs: Subscriber[] = [];
  const publisher = new RealtimeClient<Record<string, unknown>>(options.publishUrl, { WebSocket, maxQueuedPublishes: Math.max(1000, m) });
  try {
    const connectStarted = performance.now();
    let nextIndex = 0;
    const open = async (): Promise<void> => {
      while (nextIndex < n) {
        const index = nextIndex++;
        subs.push(await subscribe(options.subUrls[index % options.subUrls.length]!, options.channel, ledger, index));
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, n) }, open));
    // The publisher is connected once a publish to another channel is acknowledged.
    await publisher.publish(`${options.channel}-warmup`, { warmup: true });
    const connectMs = performance.now() - connectStarted;
    await new Promise((resolve) => setTimeout(resolve, 500));

    let coresAtEnd: [number, number][] | null = null;
    const all = new Promise<void>((resolve) => (ledger.onAll = resolve));
    void all.then(() => (coresAtEnd = coreTimes()));
    const coresAtStart = coreTimes();
    const first = now();
    const acks: Promise<unknown>[] = [];
    for (let seq = 0; seq < m; seq++) acks.push(publisher.publish(options.channel, { seq, t: now() }));
    let publishAckMs = NaN;
    const acked = Promise.all(acks).then(
      () => (publishAckMs = now() - first),
      (error: unknown) => ledger.error(`publish failed: ${error instanceof Error ? error.message : String(error)}`),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, options.timeoutMs)))]);
    clearTimeout(timer);
    await Promise.race([acked, new Promise((resolve) => setTimeout(resolve, 2000))]);
    const complete = ledger.deliveries === n * m;
    const end = complete ? ledger.lastDelivery : now();
    // A moment for duplicates that would arrive after the expected total.
    await new Promise((resolve) => setTimeout(resolve, 200));
    let badSubscribers = 0;
    for (let i = 0; i < n; i++) if (ledger.bad[i] || ledger.next[i] !== m) badSubscribers++;
    const sorted = ledger.latencies.slice(0, Math.min(ledger.deliveries, ledger.latencies.length)).sort();
    const elapsedMs = end - first;
    return {
      subscribers: n,
      messages: m,
      deliveries: ledger.deliveries,
      complete: complete && ledger.deliveries === n * m && badSubscribers === 0,
      badSubscribers,
      elapsedMs,
      deliveriesPerSecond: (ledger.deliveries / elapsedMs) * 1000,
      latencyMs: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted.length > 0 ? sorted[sorted.length - 1]! : NaN },
      publishAckMs,
      connectMs,
      coreBusy: busyBetween(coresAtStart, coresAtEnd ?? coreTimes()),
      errors: ledger.errors,
    };
  } finally {
    for (const sub of subs) sub.close();
    publisher.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'publish-url': { type: 'string' },
      'sub-urls': { type: 'string' },
      channel: { type: 'string', default: 'fan' },
      subscribers: { type: 'string', default: '2000' },
      messages: { type: 'string', default: '200' },
      'timeout-ms': { type: 'string', default: '120000' },
    },
  });
  if (values['publish-url'] === undefined || values['sub-urls'] === undefined) throw new Error('--publish-url and --sub-urls are required');
  const result = await runCrossNodeLoad({
    publishUrl: values['publish-url'],
    subUrls: values['sub-urls'].split(','),
    channel: values.channel!,
    subscribers: Number(values.subscribers),
    messages: Number(values.messages),
    timeoutMs: Number(values['timeout-ms']),
  });
  process.stdout.write(JSON.stringify(result) + '\n');
  setTimeout(() => process.exit(0), 100);
}

if (process.argv[1]?.endsWith('cross-node/load.ts')) {
  main().catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
