// One of the chaos test's clients: a RealtimeClient (tidewire's WebSocket, JSON or MessagePack)
// connecting through its own ChaosProxy, subscribed to 2-3 channels and publishing to 1-2 of them
// at a steady rate, every event reported to the ledger; plus the client-side kill.

import { msgpackCodec } from '../../../src/codecs/index.js';
import { WebSocket } from '../../../src/index.js';
import { ClientState, type StateInfo } from '../../../src/realtime/client-state.js';
import { jsonCodec } from '../../../src/realtime/codec.js';
import { RealtimeClient } from '../../../src/realtime/realtime-client.js';
import type { WebSocketConstructor } from '../../../src/realtime/transport.js';
import { ChaosProxy } from './chaos-proxy.js';
import type { ChaosMessage, Ledger } from './ledger.js';
import type { SeededRandom } from './seeded-random.js';

export interface ChaosClientOptions {
  index: number;
  subscribeTo: readonly string[];
  publishTo: readonly string[];
  binary: boolean;
  socketPath: string;
  ledger: Ledger;
  random: SeededRandom;
  publishEveryMs: number;
  padBytes: number;
  heartbeatTimeoutMs: number;
  connectTimeoutMs: number;
  /** Every state change, for the test's counters. */
  onState: (client: ChaosClient, state: ClientState, info: StateInfo) => void;
}

export class ChaosClient {
  readonly index: number;
  readonly client: RealtimeClient;
  private socket: WebSocket | null = null;
  private publishTimer: NodeJS.Timeout | null = null;
  private seq = 0;

  private constructor(
    readonly proxy: ChaosProxy,
    private readonly options: ChaosClientOptions,
  ) {
    this.index = options.index;
    const track = (socket: WebSocket) => (this.socket = socket);
    // Records every WebSocket the client makes, so that the test can kill it from the client side.
    const TrackedWebSocket = class extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        track(this);
      }
    };
    this.client = new RealtimeClient(`ws://127.0.0.1:${proxy.port}/realtime?client=${options.index}`, {
      WebSocket: TrackedWebSocket as unknown as WebSocketConstructor,
      codec: options.binary ? msgpackCodec : jsonCodec,
      backoff: { baseMs: 50, capMs: 500 },
      heartbeat: { timeoutMs: options.heartbeatTimeoutMs },
      connectTimeoutMs: options.connectTimeoutMs,
      random: () => options.random.next(),
    });
    this.client.on('state', (state, info) => options.onState(this, state, info));
    this.client.on('error', (error) => options.ledger.fail(`client ${this.index}: error event ${error.code} ${error.message}`));
    for (const channel of options.subscribeTo) {
      const stream = options.ledger.stream(this.index, channel);
      const subscription = this.client.subscribe(channel);
      subscription.on('subscribed', (info) => options.ledger.subscribed(stream, info));
      subscription.on('publication', (data, meta) => options.ledger.delivered(stream, data, meta));
      subscription.on('error', (error) => options.ledger.fail(`client ${this.index} ${channel}: subscription error ${error.code} ${error.message}`));
      subscription.on('unsubscribed', (error) => options.ledger.fail(`client ${this.index} ${channel}: unsubscribed ${error.code} ${error.message}`));
    }
  }

  static async start(options: ChaosClientOptions): Promise<ChaosClient> {
    return new ChaosClient(await ChaosProxy.start({ path: options.socketPath }), options);
  }

  get connected(): boolean {
    return this.client.state === ClientState.CONNECTED;
  }

  /** Publishes every publishEveryMs (±50 %) to one of its publish channels, until stopPublishing(). */
  startPublishing(): void {
    const { random, publishEveryMs } = this.options;
    const tick = () => {
      this.publishOne();
      this.publishTimer = setTimeout(tick, publishEveryMs * (0.5 + random.next()));
    };
    this.publishTimer = setTimeout(tick, publishEveryMs * random.next());
  }

  stopPublishing(): void {
    if (this.publishTimer !== null) clearTimeout(this.publishTimer);
    this.publishTimer = null;
  }

  /** Terminates the client's WebSocket (no close frame: the client sees 1006 and reconnects). False when it has none open. */
  kill(): boolean {
    const socket = this.socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN) return false;
    socket.terminate();
    return true;
  }

  async close(): Promise<void> {
    this.stopPublishing();
    this.client.close();
    await this.proxy.close();
  }

  private publishOne(): void {
    const { ledger, random, publishTo, padBytes } = this.options;
    this.seq += 1;
    const channel = random.pick(publishTo);
    const message: ChaosMessage = { id: `${this.index}:${this.seq}`, client: this.index, seq: this.seq, pad: 'x'.repeat(padBytes) };
    ledger.publish(message, channel, this.client.publish(channel, message));
  }
}
