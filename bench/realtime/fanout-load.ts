// Load side of the realtime fanout benchmark (run by bench/realtime/run.ts pinned to core 1, or by
// hand): opens N subscriber connections to one server, subscribes each to `fan`, triggers
// `POST /publish?m=M` on the server, and counts deliveries until every subscriber got every
// message. Checks that each subscriber got each message exactly once and in order (seq 0..M-1).
// Prints one JSON line (LoadResult) on stdout.
//
//   node --import tsx bench/realtime/fanout-load.ts --server tidewire|socketio --port P
//        [--subscribers N] [--messages M] [--bytes B] [--client lib|raw] [--hosts 127.0.0.1,127.0.0.2 (raw: source addresses)]
//
// --client lib (default): tidewire's WebSocket from dist/ (subprotocol tidewire.v1.json, JSON
//   envelope) and socket.io-client with transports: ['websocket'].
// --client raw: the same minimal RFC 6455 client over net.Socket for both servers (speaking the
//   tidewire envelope or the Engine.IO 4 / Socket.IO 5 packets), so that the load side costs the
//   same for both; it can also spread connections over several source addresses (--hosts).

import http from 'node:http';
import { asciiBytes, integerAfter, rawConnect as rawWebSocket, startsWithBytes } from '../shared/raw-websocket.js';
import { parseArgs } from 'node:util';
import { busyBetween, coreTimes, type CoreTimes } from '../shared/core-busy.js';

export interface LoadResult {
  server: string;
  client: string;
  subscribers: number;
  messages: number;
  /** Deliveries counted (should be subscribers × messages). */
  deliveries: number;
  complete: boolean;
  /** Subscribers that got a message twice, out of order, or not all of them. */
  badSubscribers: number;
  /** From just before the publish trigger was sent to the last delivery. */
  elapsedMs: number;
  deliveriesPerSecond: number;
  /** What the server measured for its publish loop (its HTTP answer). */
  serverPublishMs: number | null;
  connectMs: number;
  /**
   * Busy share (0–1) of each core from just before the trigger to the last delivery (Linux, else
   * null): with bench/realtime/run.ts, core 0 runs the server and core 1 this load process.
   */
  coreBusy: number[] | null;
  errors: string[];
}

interface Options {
  server: 'tidewire' | 'socketio';
  port: number;
  subscribers: number;
  messages: number;
  bytes: number;
  client: 'lib' | 'raw';
  /** burst: the M publications back to back; turn: one per event-loop turn of the server. */
  pace: 'burst' | 'turn';
  hosts: string[];
  timeoutMs: number;
  dist: string;
}

type Subscriber = { close(): void };

const CONNECT_CONCURRENCY = 200;

/** Per-subscriber bookkeeping shared by all client kinds. */
class Ledger {
  readonly next: Int32Array;
  readonly bad: Uint8Array;
  deliveries = 0;
  ready = 0;
  errors: string[] = [];
  onAll: (() => void) | null = null;
  constructor(readonly subscribers: number, readonly messages: number) {
    this.next = new Int32Array(subscribers);
    this.bad = new Uint8Array(subscribers);
  }
  deliver(index: number, seq: unknown): void {
    if (seq !== this.next[index]) {
      this.bad[index] = 1;
      if (this.errors.length < 10) this.errors.push(`subscriber ${index}: got seq ${String(seq)}, expected ${this.next[index]}`);
    }
    this.next[index] = (typeof seq === 'number' ? seq : this.next[index]!) + 1;
    this.deliveries++;
    if (this.deliveries === this.subscribers * this.messages) this.onAll?.();
  }
  error(message: string): void {
    if (this.errors.length < 10) this.errors.push(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Library clients

async function libTidewire(options: Options, ledger: Ledger, index: number, host: string): Promise<Subscriber> {
  const { WebSocket } = (await import(options.dist)) as typeof import('../../src/index.js');
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${host}:${options.port}/realtime`, 'tidewire.v1.json', { perMessageDeflate: false });
    ws.onmessage = (event: MessageEvent) => {
      const frame = JSON.parse(event.data as string) as { t: string; id?: number; data?: { seq: number }; error?: unknown };
      if (frame.t === 'pub') ledger.deliver(index, frame.data?.seq);
      else if (frame.t === 'hello') ws.send(JSON.stringify({ t: 'sub', id: 1, channel: 'fan' }));
      else if (frame.t === 'result' && frame.id === 1) {
        ledger.ready++;
        resolve({ close: () => ws.close() });
      } else if (frame.t === 'error') reject(new Error(`subscribe refused: ${JSON.stringify(frame.error)}`));
    };
    ws.onerror = () => reject(new Error('tidewire websocket error'));
    ws.onclose = (event: CloseEvent) => {
      if (event.code !== 1000 && event.code !== 1005) ledger.error(`subscriber ${index} closed ${event.code}`);
      reject(new Error(`closed ${event.code} before subscribing`));
    };
  });
}

async function libSocketIo(options: Options, ledger: Ledger, index: number, host: string): Promise<Subscriber> {
  const { io } = await import('socket.io-client');
  return new Promise((resolve, reject) => {
    const socket = io(`http://${host}:${options.port}`, { transports: ['websocket'], forceNew: true, reconnection: false });
    socket.on('fan', (payload: { seq: number }) => ledger.deliver(index, payload.seq));
    socket.once('connect', () => {
      ledger.ready++;
      resolve({ close: () => socket.close() });
    });
    socket.once('connect_error', (error: Error) => reject(error));
    socket.on('disconnect', (reason: string) => {
      if (reason !== 'io client disconnect') ledger.error(`subscriber ${index} disconnected: ${reason}`);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Raw client: RFC 6455 over net.Socket, no extensions; server frames are unmasked. Deliveries are
// recognised and their seq read in place (onTextBytes), the same work for both servers; anything
// else (hello, result, Engine.IO open/ping, errors) goes through JSON as a string.

/** A tidewire publication frame as the JSON codec writes it: `{"t":"pub",…,"data":{"seq":N,…}}`. */
const TIDEWIRE_PUB_PREFIX = asciiBytes('{"t":"pub"');
/** A Socket.IO event `fan` on namespace "/": Engine.IO message (4) + Socket.IO EVENT (2). */
const SOCKETIO_FAN_PREFIX = asciiBytes('42["fan",');
const SEQ_KEY = asciiBytes('"seq":');

function deliverInPlace(ledger: Ledger, index: number, data: Buffer, start: number, end: number): void {
  const seq = integerAfter(data, start, end, SEQ_KEY);
  ledger.deliver(index, seq < 0 ? undefined : seq);
}

function rawConnect(
  options: Options,
  host: string,
  localAddress: string | undefined,
  path: string,
  protocol: string | null,
  onTextBytes: (data: Buffer, start: number, end: number) => boolean,
  onText: (text: string, send: (text: string) => void) => void,
  onClose: (why: string) => void,
): Subscriber {
  return rawWebSocket({ host, port: options.port, localAddress, path, protocol, onTextBytes, onText, onClose });
}

function rawTidewire(options: Options, ledger: Ledger, index: number, host: string, localAddress: string | undefined): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    let subscribed = false;
    const subscriber = rawConnect(
      options,
      host,
      localAddress,
      '/realtime',
      'tidewire.v1.json',
      (data, start, end) => {
        if (!startsWithBytes(data, start, end, TIDEWIRE_PUB_PREFIX)) return false;
        deliverInPlace(ledger, index, data, start, end);
        return true;
      },
      (text, send) => {
        const frame = JSON.parse(text) as { t: string; id?: number; data?: { seq: number }; error?: unknown };
        if (frame.t === 'pub') ledger.deliver(index, frame.data?.seq);
        else if (frame.t === 'hello') send(JSON.stringify({ t: 'sub', id: 1, channel: 'fan' }));
        else if (frame.t === 'result' && frame.id === 1) {
          subscribed = true;
          ledger.ready++;
          resolve(subscriber);
        } else if (frame.t === 'error') reject(new Error(`subscribe refused: ${JSON.stringify(frame.error)}`));
      },
      (why) => {
        if (subscribed) ledger.error(`subscriber ${index}: ${why}`);
        else reject(new Error(why));
      },
    );
  });
}

function rawSocketIo(options: Options, ledger: Ledger, index: number, host: string, localAddress: string | undefined): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    let connected = false;
    const subscriber = rawConnect(
      options,
      host,
      localAddress,
      '/socket.io/?EIO=4&transport=websocket',
      null,
      (data, start, end) => {
        if (!startsWithBytes(data, start, end, SOCKETIO_FAN_PREFIX)) return false;
        deliverInPlace(ledger, index, data, start, end);
        return true;
      },
      (text, send) => {
        // Engine.IO packet type, then Socket.IO packet type: "42[...]" is an event on namespace "/".
        if (text.startsWith('42')) {
          const [name, payload] = JSON.parse(text.slice(2)) as [string, { seq: number }];
          if (name === 'fan') ledger.deliver(index, payload.seq);
        } else if (text === '2') send('3');
        else if (text.startsWith('0')) send('40');
        else if (text.startsWith('40')) {
          connected = true;
          ledger.ready++;
          resolve(subscriber);
        } else if (text.startsWith('44')) reject(new Error(`connect refused: ${text}`));
      },
      (why) => {
        if (connected) ledger.error(`subscriber ${index}: ${why}`);
        else reject(new Error(why));
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------

function trigger(options: Options, host: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port: options.port, method: 'POST', path: `/publish?m=${options.messages}&bytes=${options.bytes}&pace=${options.pace}`, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (text: string) => (body += text));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`trigger answered ${res.statusCode}: ${body}`));
          else resolve((JSON.parse(body) as { publishMs: number }).publishMs ?? null);
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

export async function runFanoutLoad(options: Options): Promise<LoadResult> {
  const ledger = new Ledger(options.subscribers, options.messages);
  const subscribers: Subscriber[] = [];
  const connectStarted = performance.now();
  let nextIndex = 0;
  const open = async (): Promise<void> => {
    while (nextIndex < options.subscribers) {
      const index = nextIndex++;
      // The servers listen on 127.0.0.1; raw clients spread over source addresses (--hosts), library
      // clients (no localAddress option in tidewire's WebSocket) all come from 127.0.0.1.
      const host = '127.0.0.1';
      const localAddress = options.client === 'raw' ? options.hosts[index % options.hosts.length] : undefined;
      const subscriber =
        options.client === 'raw'
          ? options.server === 'tidewire'
            ? await rawTidewire(options, ledger, index, host, localAddress)
            : await rawSocketIo(options, ledger, index, host, localAddress)
          : options.server === 'tidewire'
            ? await libTidewire(options, ledger, index, host)
            : await libSocketIo(options, ledger, index, host);
      subscribers.push(subscriber);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, options.subscribers) }, open));
  const connectMs = performance.now() - connectStarted;
  // Let the last handshakes' stragglers (and GC of the connect phase) settle.
  await new Promise((resolve) => setTimeout(resolve, 500));

  const all = new Promise<void>((resolve) => (ledger.onAll = resolve));
  const timesBefore = coreTimes();
  let timesAfter: CoreTimes = null;
  const started = performance.now();
  let ended = started;
  void all.then(() => {
    ended = performance.now();
    timesAfter = coreTimes();
  });
  const serverPublishMs = await trigger(options, '127.0.0.1');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, options.timeoutMs)))]);
  clearTimeout(timer);
  const complete = ledger.deliveries === options.subscribers * options.messages;
  if (!complete) {
    ended = performance.now();
    timesAfter = coreTimes();
  }
  // Wait a moment for duplicates that would arrive after the expected total.
  await new Promise((resolve) => setTimeout(resolve, 200));
  let badSubscribers = 0;
  for (let i = 0; i < options.subscribers; i++) if (ledger.bad[i] || ledger.next[i] !== options.messages) badSubscribers++;
  for (const subscriber of subscribers) subscriber.close();
  const elapsedMs = ended - started;
  return {
    server: options.server,
    client: options.client,
    subscribers: options.subscribers,
    messages: options.messages,
    deliveries: ledger.deliveries,
    complete: complete && ledger.deliveries === options.subscribers * options.messages,
    badSubscribers,
    elapsedMs,
    deliveriesPerSecond: (ledger.deliveries / elapsedMs) * 1000,
    serverPublishMs,
    connectMs,
    coreBusy: busyBetween(timesBefore, timesAfter),
    errors: ledger.errors,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      server: { type: 'string' },
      port: { type: 'string' },
      subscribers: { type: 'string', default: '10000' },
      messages: { type: 'string', default: '20' },
      bytes: { type: 'string', default: '32' },
      client: { type: 'string', default: 'raw' },
      pace: { type: 'string', default: 'burst' },
      hosts: { type: 'string', default: '127.0.0.1' },
      'timeout-ms': { type: 'string', default: '120000' },
      dist: { type: 'string', default: new URL('../../dist/index.js', import.meta.url).href },
    },
  });
  if (values.server !== 'tidewire' && values.server !== 'socketio') throw new Error('--server tidewire|socketio');
  if (values.client !== 'lib' && values.client !== 'raw') throw new Error('--client lib|raw');
  if (values.pace !== 'burst' && values.pace !== 'turn') throw new Error('--pace burst|turn');
  const result = await runFanoutLoad({
    server: values.server,
    port: Number(values.port),
    subscribers: Number(values.subscribers),
    messages: Number(values.messages),
    bytes: Number(values.bytes),
    client: values.client,
    pace: values.pace,
    hosts: values.hosts!.split(','),
    timeoutMs: Number(values['timeout-ms']),
    dist: values.dist!,
  });
  process.stdout.write(JSON.stringify(result) + '\n');
  // Sockets may linger in closing; the result is out.
  setTimeout(() => process.exit(0), 100);
}

if (import.meta.url === new URL(process.argv[1]!, 'file://').href || process.argv[1]?.endsWith('fanout-load.ts')) {
  main().catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
