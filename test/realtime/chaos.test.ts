// The chaos test of the messaging layer (docs/guarantees.md, all promises at once) over real
// sockets: 200 RealtimeClients (JSON and MessagePack) on 8 channels publish and receive through
// their own proxies while connections are killed from both sides, slow consumers are closed with
// 1013 and clients go through outages the heartbeats notice. At the end every publish was acked
// once and appended once, every subscriber got its channels' publications once and in offset
// order, and recovered:false came exactly when history (tiny on two channels) lost a position.
// Random choices come from a seeded PRNG: the seed is printed, CHAOS_SEED=<seed> makes the same
// choices again (the same clients, channels and injuries, as far as the timing of a run allows).
// The proxies reach the server over a Unix socket: see chaos/chaos-server.ts for why.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerPublication } from '../../src/realtime/broker.js';
import { ClientState } from '../../src/realtime/client-state.js';
import { ChaosClient } from './chaos/chaos-client.js';
import { ChaosMonkey, type ChaosCounts } from './chaos/chaos-monkey.js';
import { ChaosServer } from './chaos/chaos-server.js';
import { Ledger, type LedgerCounts } from './chaos/ledger.js';
import { SeededRandom } from './chaos/seeded-random.js';

const CLIENTS = 200;
const BIG_CHANNELS = ['big-0', 'big-1', 'big-2', 'big-3', 'big-4', 'big-5'] as const;
const TINY_CHANNELS = ['tiny-0', 'tiny-1'] as const;
const CHANNELS: readonly string[] = [...BIG_CHANNELS, ...TINY_CHANNELS];
/** How long the chaos lasts (CHAOS_MS; at least ~15 s, or the long outages do not fit and the client heartbeat goes unexercised). */
const CHAOS_MS = Number(process.env.CHAOS_MS ?? 20_000);
/** Each client publishes about this often: ~133 publishes a second in all, ~17 per channel, ~2700 in a run. */
const PUBLISH_EVERY_MS = 1500;
/** Payload padding: enough bytes a second per subscriber (~30 KB) for a stalled reader to reach 1013 within ~3-8 s. */
const PAD_BYTES = 700;
/** The big channels hold everything a run publishes (~2700 in all), many times over: no gap is ever allowed there. */
const BIG_HISTORY_SIZE = 100_000;
/** About a second of a tiny channel's traffic: a quick reconnect still recovers, an outage or a stall does not. */
const TINY_HISTORY_SIZE = 20;
const MAX_OUTBOUND_BYTES = 64 * 1024;
/** Server pings (and the clients' app-level ping period); a connection silent for one round is terminated. */
const HEARTBEAT_INTERVAL_MS = 1000;
/** Longer than a slow consumer takes to reach 1013, shorter than the long outages. */
const CLIENT_HEARTBEAT_TIMEOUT_MS = 10_000;
const SETTLE_TIMEOUT_MS = 20_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await sleep(50);
  }
}

function summary(seed: number, ledger: LedgerCounts, chaos: ChaosCounts, seconds: number): string {
  return [
    `chaos seed=${seed}: ${CLIENTS} clients, ${CHANNELS.length} channels, ${ledger.publishes} publishes (${ledger.acked} acked), ${ledger.deliveries} deliveries;`,
    `kills client-side=${chaos.killsClientSide} server-side=${chaos.killsServerSide} network=${chaos.networkCuts};`,
    `slow consumers=${chaos.slowConsumers} (${chaos.slowClosed1013} closed with 1013, slowest after ${chaos.slowest1013Ms} ms; released without: ${chaos.slowReleasedWithout1013}, heartbeat first: ${chaos.slowEndedOtherwise}) 1013 closes=${chaos.closes1013};`,
    `outages=${chaos.outages} heartbeat timeouts client=${chaos.clientHeartbeatTimeouts} server=${chaos.serverHeartbeatTimeouts};`,
    `resubscribes=${ledger.resubscribes} recovered:false=${ledger.recoveredFalse} (skipped ${ledger.skipped} offsets; tiny channels recovered:true=${ledger.tinyRecoveredTrue});`,
    `disconnects by code ${JSON.stringify(chaos.disconnectsByCode)}; ${seconds.toFixed(1)} s`,
  ].join(' ');
}

test('chaos: 200 clients publish and receive exactly once, in order, through kills from both sides, slow-consumer closes and outages', { timeout: 90_000 }, async () => {
  const startedAt = Date.now();
  const random = SeededRandom.fromEnvironment(process.env.CHAOS_SEED);
  console.log(`chaos: seed ${random.seed} (replay with CHAOS_SEED=${random.seed})`);
  let server: ChaosServer | undefined;
  const ledger = new Ledger(
    CHANNELS.map((name) => ({ name, tiny: (TINY_CHANNELS as readonly string[]).includes(name) })),
    (channel, options) => server!.broker.history(channel, options),
  );
  let monkey: ChaosMonkey | undefined;
  let closing = false;
  const clients: ChaosClient[] = [];
  server = await ChaosServer.start({
    bigChannels: BIG_CHANNELS,
    tinyChannels: TINY_CHANNELS,
    bigHistorySize: BIG_HISTORY_SIZE,
    tinyHistorySize: TINY_HISTORY_SIZE,
    maxOutboundBytes: MAX_OUTBOUND_BYTES,
    heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
    tap: (publication: BrokerPublication) => ledger.tap(publication),
    onSessionClosed: (sessionId, code) => monkey?.sessionClosed(sessionId, code),
  });
  try {
    for (let index = 0; index < CLIENTS; index += 1) {
      const own = random.fork();
      // Every channel gets subscribers: channel index % 8, plus one or two others.
      const first = CHANNELS[index % CHANNELS.length]!;
      const subscribeTo = [first, ...own.sample(CHANNELS.filter((channel) => channel !== first), own.int(1, 2))];
      clients.push(await ChaosClient.start({
        index,
        subscribeTo,
        publishTo: own.sample(subscribeTo, own.int(1, 2)),
        binary: index % 2 === 1,
        socketPath: server.socketPath,
        ledger,
        random: own,
        publishEveryMs: PUBLISH_EVERY_MS,
        padBytes: PAD_BYTES,
        heartbeatTimeoutMs: CLIENT_HEARTBEAT_TIMEOUT_MS,
        connectTimeoutMs: 5000,
        onState: (client, state, info) => {
          if (state === ClientState.CLOSED && !closing) ledger.fail(`client ${client.index}: closed for good (${String(info.code)} ${String(info.reason)})`);
          monkey?.clientState(client, state, info);
        },
      }));
    }
    monkey = new ChaosMonkey(clients, server, random, {
      stepMs: 60,
      maxHeld: 16,
      maxSlowMs: 14_000,
      slowLeadMs: 10_000,
      shortOutageMs: [2000, 4000],
      longOutageMs: [CLIENT_HEARTBEAT_TIMEOUT_MS + 3000, CLIENT_HEARTBEAT_TIMEOUT_MS + 4500],
    });
    await until(() => clients.every((client) => client.connected) && ledger.lagging().length === 0, 20_000,
      () => `${clients.filter((client) => !client.connected).length} clients not connected`);
    // Sessions that said hello before the monkey existed.
    for (const client of clients) if (client.client.session !== null) monkey.clientState(client, ClientState.CONNECTED, { session: client.client.session });
    console.log(`chaos: ${CLIENTS} clients connected and subscribed in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);

    for (const client of clients) client.startPublishing();
    monkey.start(CHAOS_MS);
    await sleep(CHAOS_MS);
    monkey.stop();
    for (const client of clients) client.stopPublishing();

    const settleStart = Date.now();
    const settled = await until(() => ledger.unsettledPublishes === 0 && clients.every((client) => client.connected) && ledger.lagging().length === 0, SETTLE_TIMEOUT_MS, () => {
      const lagging = ledger.lagging().slice(0, 10).map((stream) => `client ${stream.client} ${stream.channel} at ${String(stream.last)} of ${ledger.latest(stream.channel)}`);
      const down = clients.filter((client) => !client.connected).map((client) => `${client.index}:${client.client.state}`);
      return `not settled: ${ledger.unsettledPublishes} publishes unacked; not connected: [${down.join(', ')}]; lagging: ${lagging.join('; ')}`;
    }).then(() => null, (error: Error) => error.message);
    await sleep(200); // anything late (a duplicate, a stray replay) would show up now
    console.log(`chaos: settled in ${((Date.now() - settleStart) / 1000).toFixed(1)} s`);

    if (settled === null) {
      const retained = new Map<string, BrokerPublication[]>();
      for (const channel of CHANNELS) retained.set(channel, (await server.broker.history(channel)).publications);
      ledger.verify(retained);
    }
    const counts = ledger.counts();
    const chaos = monkey.counts;
    console.log(summary(random.seed, counts, chaos, (Date.now() - startedAt) / 1000));

    if (settled !== null || ledger.failureCount > 0) {
      const violations = ledger.failures.map((failure) => `\n  ${failure}`).join('');
      assert.fail(`seed ${random.seed}: ${settled ?? 'settled'}; ${ledger.failureCount} violations${violations}`);
    }
    const injected = {
      killsClientSide: chaos.killsClientSide, killsServerSide: chaos.killsServerSide, networkCuts: chaos.networkCuts,
      slowClosed1013: chaos.slowClosed1013, outages: chaos.outages, clientHeartbeatTimeouts: chaos.clientHeartbeatTimeouts,
      serverHeartbeatTimeouts: chaos.serverHeartbeatTimeouts, recoveredFalse: counts.recoveredFalse, tinyRecoveredTrue: counts.tinyRecoveredTrue,
    };
    for (const [what, count] of Object.entries(injected)) assert.ok(count > 0, `no ${what} happened (seed ${random.seed}): the chaos did not exercise it`);
    assert.equal(counts.acked, counts.publishes);
  } finally {
    closing = true;
    monkey?.stop();
    await Promise.all(clients.map((client) => client.close()));
    await server.close();
  }
});
