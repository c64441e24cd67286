// The chaos itself: at a steady pace it picks a client and an injury from the seeded PRNG: kill its
// connection from the client side or the server side, cut the network between them, stop reading
// what the server sends it (a slow consumer, until the server closes it with 1013), or hold both
// directions for a while (an outage, which the heartbeats notice). It counts what it did and what
// the server and clients reported back.

import { ClientState, type StateInfo } from '../../../src/realtime/client-state.js';
import type { ChaosClient } from './chaos-client.js';
import type { ChaosServer } from './chaos-server.js';
import type { SeededRandom } from './seeded-random.js';

export const Injury = {
  KILL_CLIENT_SIDE: 'kill-client-side',
  KILL_SERVER_SIDE: 'kill-server-side',
  CUT_NETWORK: 'cut-network',
  SLOW_CONSUMER: 'slow-consumer',
  OUTAGE: 'outage',
} as const;
export type Injury = (typeof Injury)[keyof typeof Injury];

const WEIGHTS: ReadonlyArray<readonly [Injury, number]> = [
  [Injury.KILL_CLIENT_SIDE, 30],
  [Injury.KILL_SERVER_SIDE, 30],
  [Injury.CUT_NETWORK, 10],
  [Injury.SLOW_CONSUMER, 15],
  [Injury.OUTAGE, 15],
];

export interface ChaosMonkeyOptions {
  /** One injury every stepMs. */
  stepMs: number;
  /** Clients held (slow or in an outage) at once, at most. */
  maxHeld: number;
  /** A slow consumer is released after this long if the server has not closed it by then. */
  maxSlowMs: number;
  /** No new slow consumer when less than this is left of the run (it would not reach 1013). */
  slowLeadMs: number;
  /** Outages are long (the client's heartbeat notices too) or short (only the server's does). */
  shortOutageMs: readonly [min: number, max: number];
  longOutageMs: readonly [min: number, max: number];
}

export interface ChaosCounts {
  killsClientSide: number;
  killsServerSide: number;
  networkCuts: number;
  slowConsumers: number;
  /** Sessions the server closed with 1013 (slow consumers, and clients whose replays piled up). */
  closes1013: number;
  /** Slow consumers (held by the chaos) that the server closed with 1013. */
  slowClosed1013: number;
  /** How long the server took to close slow consumers, in ms (the longest). */
  slowest1013Ms: number;
  /** Slow consumers released before the server closed them. */
  slowReleasedWithout1013: number;
  /** Slow consumers whose connection ended before the server closed it (the client's heartbeat gave up first). */
  slowEndedOtherwise: number;
  outages: number;
  /** Client side: no pong within the heartbeat timeout. */
  clientHeartbeatTimeouts: number;
  /** Server side: sessions of clients in an outage that the server's heartbeat terminated. */
  serverHeartbeatTimeouts: number;
  /** Disconnects the clients saw, by close code. */
  disconnectsByCode: Record<string, number>;
}

interface Hold {
  readonly injury: Injury;
  readonly sinceMs: number;
}

export class ChaosMonkey {
  readonly counts: ChaosCounts = {
    killsClientSide: 0, killsServerSide: 0, networkCuts: 0, slowConsumers: 0, closes1013: 0, slowClosed1013: 0, slowest1013Ms: 0, slowReleasedWithout1013: 0, slowEndedOtherwise: 0,
    outages: 0, clientHeartbeatTimeouts: 0, serverHeartbeatTimeouts: 0, disconnectsByCode: {},
  };
  private readonly bySession = new Map<string, ChaosClient>();
  /** Clients held by a slow-consumer or outage injury (no other injury meanwhile). */
  private readonly held = new Map<ChaosClient, Hold>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stepTimer: NodeJS.Timeout | null = null;
  private endsAt = 0;
  /** The first injuries: every kind twice, in random order, so that none is missing from a run; then by weight. */
  private readonly opening: Injury[];

  constructor(
    private readonly clients: readonly ChaosClient[],
    private readonly server: ChaosServer,
    private readonly random: SeededRandom,
    private readonly options: ChaosMonkeyOptions,
  ) {
    this.opening = random.sample([...WEIGHTS, ...WEIGHTS].map(([injury]) => injury), 2 * WEIGHTS.length);
  }

  /** Injures for `durationMs` (stop() ends it); injuries that would outlast the run are not started. */
  start(durationMs: number): void {
    this.endsAt = Date.now() + durationMs;
    this.stepTimer = setInterval(() => this.step(), this.options.stepMs);
  }

  /** No more injuries; every held connection is released. */
  stop(): void {
    if (this.stepTimer !== null) clearInterval(this.stepTimer);
    this.stepTimer = null;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const client of [...this.held.keys()]) this.release(client);
  }

  /** Feed of the clients' state changes. */
  clientState(client: ChaosClient, state: ClientState, info: StateInfo): void {
    if (state === ClientState.CONNECTED && info.session !== undefined) this.bySession.set(info.session, client);
    if (state !== ClientState.DISCONNECTED) return;
    const code = String(info.code);
    this.counts.disconnectsByCode[code] = (this.counts.disconnectsByCode[code] ?? 0) + 1;
    if (/no pong/.test(info.reason ?? '')) this.counts.clientHeartbeatTimeouts += 1;
  }

  /** Feed of the server's session closes. */
  sessionClosed(sessionId: string, code: number): void {
    const client = this.bySession.get(sessionId);
    this.bySession.delete(sessionId);
    if (code === 1013) {
      this.counts.closes1013 += 1;
      // The slow consumer served its purpose: let it read again (it will see the close and reconnect).
      const hold = client === undefined ? undefined : this.held.get(client);
      if (client !== undefined && hold?.injury === Injury.SLOW_CONSUMER && client.proxy.holdingInbound) {
        this.counts.slowClosed1013 += 1;
        this.counts.slowest1013Ms = Math.max(this.counts.slowest1013Ms, Date.now() - hold.sinceMs);
        this.release(client);
      }
    } else if (code === 1006 && client?.proxy.inOutage === true) {
      this.counts.serverHeartbeatTimeouts += 1; // nothing else kills a client in an outage
    }
  }

  private step(): void {
    const candidates = this.clients.filter((client) => client.connected && !this.held.has(client));
    if (candidates.length === 0) return;
    const client = this.random.pick(candidates);
    const injury = this.opening.shift() ?? this.pickInjury();
    switch (injury) {
      case Injury.KILL_CLIENT_SIDE:
        if (client.kill()) this.counts.killsClientSide += 1;
        return;
      case Injury.KILL_SERVER_SIDE:
        if (this.server.killSocketOf(client.index)) this.counts.killsServerSide += 1;
        return;
      case Injury.CUT_NETWORK:
        if (client.proxy.cutAll() > 0) this.counts.networkCuts += 1;
        return;
      case Injury.SLOW_CONSUMER:
        if (this.held.size >= this.options.maxHeld || this.endsAt - Date.now() < this.options.slowLeadMs || !client.proxy.holdInbound()) return;
        this.counts.slowConsumers += 1;
        this.hold(client, Injury.SLOW_CONSUMER, this.options.maxSlowMs, () => {
          if (client.proxy.holdingInbound) this.counts.slowReleasedWithout1013 += 1;
          else this.counts.slowEndedOtherwise += 1;
        });
        return;
      case Injury.OUTAGE: {
        // Three long ones first, then long and short in turn; short when a long one would outlast the run.
        const left = this.endsAt - Date.now();
        const long = (this.counts.outages < 3 || this.counts.outages % 2 === 0) && this.options.longOutageMs[1] <= left;
        const [min, max] = long ? this.options.longOutageMs : this.options.shortOutageMs;
        const durationMs = this.random.int(min, max);
        if (this.held.size >= this.options.maxHeld || durationMs > left) return;
        this.counts.outages += 1;
        client.proxy.startOutage();
        this.hold(client, Injury.OUTAGE, durationMs, () => {});
        return;
      }
      default: {
        const unexpected: never = injury;
        throw new Error(`unknown injury ${String(unexpected)}`);
      }
    }
  }

  /** Marks `client` held until release(), or until `maxMs` passed (then `expired` runs first). */
  private hold(client: ChaosClient, injury: Injury, maxMs: number, expired: () => void): void {
    const hold: Hold = { injury, sinceMs: Date.now() };
    this.held.set(client, hold);
    this.later(maxMs, () => {
      if (this.held.get(client) !== hold) return; // released already (and maybe held again since)
      expired();
      this.release(client);
    });
  }

  private release(client: ChaosClient): void {
    this.held.delete(client);
    client.proxy.releaseInbound();
    if (client.proxy.inOutage) client.proxy.endOutage();
  }

  private pickInjury(): Injury {
    const total = WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0);
    let roll = this.random.next() * total;
    for (const [injury, weight] of WEIGHTS) {
      roll -= weight;
      if (roll < 0) return injury;
    }
    return WEIGHTS[0]![0];
  }

  private later(delayMs: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, delayMs);
    this.timers.add(timer);
  }
}
