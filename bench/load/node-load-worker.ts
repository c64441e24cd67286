// One worker thread of the Node load generator: opens its share of the connections and plays
// their role (echo client with sequence numbers, idle holder, fanout subscriber or publisher),
// counting what the coordinator asks for. Raw sockets with ws-wire.ts; the permessage-deflate
// scenario uses tidewire's own WebSocket client (the wire helper has no compression).

import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { Op, StreamParser, checkUpgradeAnswer, encodeClientFrame, encodeRawMessage, upgradeRequest } from './ws-wire.js';
import { emptyCounts, histogramAdd, nowNs, type FromWorker, type ToWorker, type WorkerConfig } from './load-stats.js';

const config = workerData as WorkerConfig;
const port = parentPort!;
const counts = emptyCounts();
let measuring = false;
let stopping = false;

function post(message: FromWorker): void {
  port.postMessage(message);
}

/** A client connection as the roles see it. */
interface Link {
  readonly id: number;
  send(opcode: number, payload: Buffer): void;
  /** Runs fn with writes collected into one (one syscall for a burst of messages). */
  batch(fn: () => void): void;
  destroy(): void;
  isOpen(): boolean;
}

interface Role {
  onOpen(link: Link): void;
  onMessage(link: Link, opcode: number, payload: Buffer): void;
  /** The connection ended; wasOpen says whether its handshake had succeeded. */
  onClosed(link: Link, wasOpen: boolean): void;
}

/** A connection over a raw net.Socket: the upgrade, then frames (or raw length-prefixed messages). */
class WireLink implements Link {
  private state: 'connecting' | 'handshake' | 'open' | 'closed' = 'connecting';
  private readonly socket: net.Socket;
  private readonly parser: StreamParser;
  private handshakeBytes: Buffer = Buffer.alloc(0);
  private expectedAccept = '';
  private out: Buffer[] = [];
  private batching = false;

  constructor(readonly id: number, private readonly raw: boolean, private readonly role: Role) {
    const options: net.NetConnectOpts = { host: config.host, port: config.port, noDelay: true };
    if (config.nsrc > 1) options.localAddress = `127.0.0.${1 + (id % config.nsrc)}`;
    this.socket = net.connect(options);
    this.parser = new StreamParser(raw, (opcode, payload) => role.onMessage(this, opcode, payload), (opcode, payload) => this.onControl(opcode, payload));
    this.socket.on('connect', () => this.onConnect());
    this.socket.on('data', (chunk: Buffer) => this.batch(() => this.onData(chunk)));
    this.socket.on('error', () => {}); // 'close' follows and does the accounting
    this.socket.on('close', () => {
      const wasOpen = this.state === 'open';
      this.state = 'closed';
      role.onClosed(this, wasOpen);
    });
  }

  isOpen(): boolean {
    return this.state === 'open';
  }

  send(opcode: number, payload: Buffer): void {
    this.out.push(this.raw ? encodeRawMessage(payload) : encodeClientFrame(opcode, payload));
    if (!this.batching) this.flush();
  }

  batch(fn: () => void): void {
    this.batching = true;
    try {
      fn();
    } finally {
      this.batching = false;
      this.flush();
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private flush(): void {
    if (this.out.length === 0 || this.state === 'closed') return;
    this.socket.write(this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out));
    this.out = [];
  }

  private onConnect(): void {
    if (this.raw) {
      this.state = 'open';
      this.batch(() => this.role.onOpen(this));
      return;
    }
    const { request, expectedAccept } = upgradeRequest(config.host, config.port);
    this.expectedAccept = expectedAccept;
    this.state = 'handshake';
    this.socket.write(request);
  }

  private onData(chunk: Buffer): void {
    let input = chunk;
    if (this.state === 'handshake') {
      this.handshakeBytes = this.handshakeBytes.length === 0 ? chunk : Buffer.concat([this.handshakeBytes, chunk]);
      const answer = checkUpgradeAnswer(this.handshakeBytes, this.expectedAccept);
      if (!answer.done) return;
      if (answer.error !== null) {
        counts.protocolErrors++;
        this.socket.destroy();
        return;
      }
      this.state = 'open';
      this.handshakeBytes = Buffer.alloc(0);
      this.role.onOpen(this);
      input = answer.rest;
    }
    if (this.state !== 'open' || input.length === 0) return;
    const error = this.parser.push(input);
    if (error !== null) {
      counts.protocolErrors++;
      this.socket.destroy();
    }
  }

  private onControl(opcode: number, payload: Buffer): void {
    if (opcode === Op.PING) {
      this.send(Op.PONG, Buffer.from(payload));
    } else if (opcode === Op.CLOSE) {
      this.send(Op.CLOSE, Buffer.from(payload.subarray(0, 2)));
      this.flush();
      this.socket.end();
    }
  }
}

/** A connection through tidewire's WebSocket client, offering permessage-deflate. */
async function deflateLinkFactory(): Promise<(id: number, role: Role) => Link> {
  const { WebSocket } = await import('../../src/index.js');
  return (id, role) => {
    const ws = new WebSocket(`ws://${config.host}:${config.port}/`, undefined, { perMessageDeflate: true });
    let open = false;
    const link: Link = {
      id,
      send: (opcode, payload) => void ws.send(payload, { binary: opcode === Op.BINARY }),
      batch: (fn) => fn(), // the client batches a tick's writes itself
      destroy: () => ws.terminate(),
      isOpen: () => open,
    };
    ws.on('error', () => {});
    ws.on('open', () => {
      open = true;
      if (!ws.extensions.includes('permessage-deflate')) counts.protocolErrors++; // deflate was asked for
      role.onOpen(link);
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => role.onMessage(link, isBinary ? Op.BINARY : Op.TEXT, data));
    ws.on('close', () => {
      const wasOpen = open;
      open = false;
      role.onClosed(link, wasOpen);
    });
    return link;
  };
}

// ---- payloads ----------------------------------------------------------------------------

const SEQ_OFFSET = config.payload === 'json' ? 8 : 0;
const SEQ_LENGTH = Math.min(16, config.size - SEQ_OFFSET);
const OPCODE = config.payload === 'binary' ? Op.BINARY : Op.TEXT;

/** The payload of connection id (the sequence number goes over [SEQ_OFFSET, +SEQ_LENGTH)). */
function makeTemplate(id: number): Buffer {
  const size = config.size;
  if (config.payload === 'binary') {
    const bytes = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) bytes[i] = (Math.random() * 256) | 0;
    return bytes;
  }
  if (config.payload === 'text') {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789 ';
    return Buffer.from(Array.from({ length: size }, (_, i) => alphabet[(i * 7 + id) % alphabet.length]).join(''), 'latin1');
  }
  // JSON of exactly `size` bytes: {"seq":"<16 hex>","items":[...],"pad":"   "}
  let text = '{"seq":"0000000000000000","items":[';
  for (let i = 0; ; i++) {
    const item = `${i ? ',' : ''}{"id":${i + (id % 10)},"name":"item-${i}","tags":["red","blue"],"ok":true}`;
    if (text.length + item.length + 12 > size) break;
    text += item;
  }
  text += '],"pad":"';
  text = text.padEnd(size - 2, ' ') + '"}';
  return Buffer.from(text, 'latin1');
}

function seqDigits(seq: number): string {
  return seq.toString(16).padStart(16, '0').slice(16 - SEQ_LENGTH);
}

// ---- roles -------------------------------------------------------------------------------

interface EchoState {
  template: Buffer;
  nextSeq: number;
  expectSeq: number;
  sentAt: number[]; // FIFO of send times (echo servers keep each connection's order)
}

class EchoRole implements Role {
  private readonly states = new Map<number, EchoState>();
  constructor(private readonly opener: Opener) {}

  onOpen(link: Link): void {
    this.states.set(link.id, { template: makeTemplate(link.id), nextSeq: 0, expectSeq: 0, sentAt: [] });
    this.opener.settled(true);
    for (let i = 0; i < config.depth; i++) this.sendNext(link);
  }

  onMessage(link: Link, opcode: number, payload: Buffer): void {
    const state = this.states.get(link.id)!;
    const sent = state.sentAt.shift();
    const seq = state.expectSeq++;
    if (sent === undefined) {
      counts.verifyFailures++;
    } else if (payload.length !== config.size || (config.mode !== 'raw' && opcode !== OPCODE)) {
      counts.verifyFailures++;
    } else if (payload.toString('latin1', SEQ_OFFSET, SEQ_OFFSET + SEQ_LENGTH) !== seqDigits(seq)) {
      counts.verifyFailures++; // lost, duplicated or reordered
    } else if (config.check && !sameOutsideSeq(payload, state.template)) {
      counts.verifyFailures++;
    }
    const now = nowNs();
    if (measuring) {
      counts.msgs++;
      counts.bytes += payload.length;
      if (sent !== undefined) histogramAdd(counts.histogram, (now - sent) / 1e3);
    }
    if (!stopping) this.sendNext(link);
  }

  onClosed(link: Link, wasOpen: boolean): void {
    if (!wasOpen) this.opener.settled(false);
    else if (!stopping) counts.connErrors++;
  }

  private sendNext(link: Link): void {
    const state = this.states.get(link.id)!;
    const payload = Buffer.allocUnsafe(config.size);
    state.template.copy(payload);
    payload.write(seqDigits(state.nextSeq++), SEQ_OFFSET, 'latin1');
    state.sentAt.push(nowNs());
    link.send(OPCODE, payload);
  }
}

function sameOutsideSeq(payload: Buffer, template: Buffer): boolean {
  const end = SEQ_OFFSET + SEQ_LENGTH;
  return payload.compare(template, 0, SEQ_OFFSET, 0, SEQ_OFFSET) === 0 && payload.compare(template, end, template.length, end, payload.length) === 0;
}

class IdleRole implements Role {
  constructor(private readonly opener: Opener) {}
  onOpen(): void {
    this.opener.settled(true);
  }
  onMessage(): void {}
  onClosed(_link: Link, wasOpen: boolean): void {
    if (!wasOpen) this.opener.settled(false);
    else if (!stopping) counts.connErrors++;
  }
}

/** Fanout subscribers of this worker: each broadcast k must arrive at each of them, in order. */
class SubscriberRole implements Role {
  private readonly next = new Map<number, number>();
  private readonly received = new Uint32Array(config.msgs);
  private readonly firstNs = new Float64Array(config.msgs);
  private openSubscribers = 0;
  constructor(private readonly opener: Opener) {}

  onOpen(link: Link): void {
    this.next.set(link.id, 0);
    this.openSubscribers++;
    this.opener.settled(true);
  }

  onMessage(link: Link, _opcode: number, payload: Buffer): void {
    const k = parseBroadcast(payload);
    if (k < 0) {
      counts.verifyFailures++;
      return;
    }
    const expected = this.next.get(link.id)!;
    if (k !== expected) counts.verifyFailures++; // out of order or lost
    this.next.set(link.id, k + 1);
    counts.msgs++;
    const now = nowNs();
    if (this.firstNs[k] === 0) this.firstNs[k] = now;
    if (++this.received[k]! === this.openSubscribers) post({ t: 'fanout-done', k, firstNs: this.firstNs[k]!, allNs: now });
  }

  onClosed(_link: Link, wasOpen: boolean): void {
    if (!wasOpen) this.opener.settled(false);
    else if (!stopping) counts.connErrors++;
  }
}

/** wsload's broadcast: '#', the index in 15 hex digits, then letters. -1 when unrecognised. */
function parseBroadcast(payload: Buffer): number {
  if (payload.length < 16 || payload[0] !== 0x23) return -1;
  const k = Number.parseInt(payload.toString('latin1', 1, 16), 16);
  return Number.isInteger(k) && k >= 0 && k < config.msgs ? k : -1;
}

function broadcastBody(k: number): Buffer {
  const body = Buffer.allocUnsafe(config.size);
  body[0] = 0x23;
  body.write(k.toString(16).padStart(15, '0'), 1, 'latin1');
  for (let i = 16; i < config.size; i++) body[i] = 0x61 + ((i + k) % 26);
  return body;
}

// ---- opening connections, at most `window` handshakes at a time ---------------------------------

class Opener {
  private started = 0;
  private settledCount = 0;
  private open = 0;
  private firstConnectNs = 0;
  private create: (id: number) => Link = () => {
    throw new Error('no factory');
  };
  readonly links: Link[] = [];

  start(create: (id: number) => Link): void {
    this.create = create;
    if (config.count === 0) return this.finish();
    this.firstConnectNs = nowNs();
    const window = Math.max(1, config.window);
    while (this.started < config.count && this.started < window) this.startOne();
  }

  settled(ok: boolean): void {
    this.settledCount++;
    if (ok) this.open++;
    if (this.started < config.count) this.startOne();
    else if (this.settledCount === config.count) this.finish();
  }

  private startOne(): void {
    this.links.push(this.create(config.firstId + this.started++));
  }

  private finish(): void {
    counts.open = this.open;
    counts.connectFailures = config.count - this.open;
    post({ t: 'ready', open: this.open, failed: config.count - this.open, firstConnectNs: this.firstConnectNs, lastReadyNs: nowNs() });
  }
}

// ---- main ----------------------------------------------------------------------------------

const opener = new Opener();
let publisher: Link | null = null;

async function main(): Promise<void> {
  const raw = config.mode === 'raw';
  if (config.mode === 'echo' || raw) {
    const role = new EchoRole(opener);
    const createLink = config.deflate ? await deflateLinkFactory() : (id: number, r: Role) => new WireLink(id, raw, r);
    opener.start((id) => createLink(id, role));
  } else if (config.mode === 'idle') {
    const role = new IdleRole(opener);
    opener.start((id) => new WireLink(id, false, role));
  } else {
    const role = new SubscriberRole(opener);
    opener.start((id) => new WireLink(id, false, role));
  }
}

function connectPublisher(): void {
  const role: Role = {
    onOpen: () => post({ t: 'publisher-ready', ok: true }),
    onMessage: () => {}, // the publisher's own copy
    onClosed: (_link, wasOpen) => {
      if (!wasOpen) post({ t: 'publisher-ready', ok: false });
      else if (!stopping) counts.connErrors++;
    },
  };
  publisher = new WireLink(config.firstId + config.count, false, role);
}

function stop(): void {
  stopping = true;
  measuring = false;
  post({ t: 'stopped', counts });
  for (const link of opener.links) link.destroy();
  publisher?.destroy();
}

port.on('message', (message: ToWorker) => {
  switch (message.t) {
    case 'measure':
      counts.msgs = 0;
      counts.bytes = 0;
      counts.histogram.fill(0);
      measuring = true;
      break;
    case 'stop':
      stop();
      break;
    case 'report':
      post({ t: 'report', counts, stillOpen: opener.links.filter((link) => link.isOpen()).length });
      break;
    case 'connect-publisher':
      connectPublisher();
      break;
    case 'publish':
      publisher?.send(Op.BINARY, broadcastBody(message.k));
      break;
    default: {
      const exhaustive: never = message;
      throw new Error(`unknown message ${JSON.stringify(exhaustive)}`);
    }
  }
});

void main();
