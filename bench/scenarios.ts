// The benchmark scenarios: which servers each one runs, the load generator's arguments, the numbers
// it yields, and the goals of the issue they are checked against.

export type ServerId = 'tidewire' | 'ws' | 'net-raw' | 'c-raw';
export type ScenarioKind = 'echo' | 'idle' | 'fanout';

export interface ServerSpec {
  id: ServerId;
  label: string;
  /** A file under bench/servers/ run with node, or 'rawecho' (the C limit built beside wsload). */
  program: string;
  /** Load mode for echo scenarios: WebSocket echo, or length-prefixed raw messages. */
  raw: boolean;
}

export const SERVER_LABELS: Record<ServerId, string> = {
  tidewire: 'tidewire',
  ws: 'ws',
  'net-raw': 'Node net raw',
  'c-raw': 'C raw',
};

/** One number a scenario reports per run. */
export interface MetricSpec {
  key: string;
  label: string;
  unit: string;
  higherIsBetter: boolean;
}

export interface LoadSettings {
  /** Measured seconds of echo runs (--duration). */
  durationS: number;
  warmupS: number;
  smoke: boolean;
}

export interface Scenario {
  name: string;
  title: string;
  description: string;
  kind: ScenarioKind;
  servers: ServerId[];
  /** Extra arguments for the servers (echo servers: --deflate). */
  serverArgs: string[];
  /** wsload arguments after the mode, without -p/-P/-l. */
  loadArgs(settings: LoadSettings): string[];
  /** A short unmeasured load on the same server process first (JIT warm-up), when the measured load has none of its own. */
  warmupArgs?(settings: LoadSettings): string[] | null;
  metrics: MetricSpec[];
}

const MSGS_PER_S: MetricSpec = { key: 'msgs_per_s', label: 'msgs/s', unit: 'msgs/s', higherIsBetter: true };
const DELIVERIES_PER_S: MetricSpec = { key: 'deliveries_per_s', label: 'deliveries/s', unit: 'deliveries/s', higherIsBetter: true };
export const IDLE_METRICS: MetricSpec[] = [
  { key: 'handshakes_per_s', label: 'handshakes/s', unit: 'handshakes/s', higherIsBetter: true },
  { key: 'rss_per_conn', label: 'RSS per connection', unit: 'bytes', higherIsBetter: false },
  { key: 'heap_per_conn', label: 'JS heap per connection', unit: 'bytes', higherIsBetter: false },
];

function echoArgs(extra: string[], conns = 100, depth = 16) {
  return (s: LoadSettings): string[] => [
    '-c', String(conns), '-d', String(depth),
    '-t', String(s.durationS), '-w', String(s.warmupS),
    '--check', ...extra,
  ];
}

/** Broadcasts per run scale with --duration (8 s: the counts below), so ws's runs last ~5-15 s. */
function fanoutArgs(subscribers: number, depth: number, broadcastsAt8s: number) {
  return (s: LoadSettings): string[] => {
    const broadcasts = s.smoke ? 10 : Math.max(depth, Math.round((broadcastsAt8s * s.durationS) / 8));
    const conns = s.smoke ? Math.min(subscribers, 100) : subscribers;
    return ['-c', String(conns), '-d', String(depth), '-m', String(broadcasts), '-s', '64', '-n', '4', '--timeout', '120'];
  };
}

/** wsload fanout has no warm-up phase: 1,000 subscribers and a few dozen broadcasts first warm the broadcast path. */
function fanoutWarmup(depth: number) {
  return (s: LoadSettings): string[] | null =>
    s.smoke ? null : ['-c', '1000', '-d', String(depth), '-m', String(Math.max(50, 20 * depth)), '-s', '64', '-n', '4', '--timeout', '60'];
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'echo-32',
    title: 'echo 32 B binary',
    description: '100 connections, 16 messages of 32 B in flight on each, binary frames, every byte checked.',
    kind: 'echo',
    servers: ['tidewire', 'ws', 'net-raw', 'c-raw'],
    serverArgs: [],
    loadArgs: echoArgs(['-s', '32']),
    metrics: [MSGS_PER_S],
  },
  {
    name: 'echo-32-text',
    title: 'echo 32 B text',
    description: 'As echo-32 with text frames (UTF-8 validation on the server).',
    kind: 'echo',
    servers: ['tidewire', 'ws'],
    serverArgs: [],
    loadArgs: echoArgs(['-s', '32', '-T']),
    metrics: [MSGS_PER_S],
  },
  {
    name: 'echo-4k',
    title: 'echo 4 KiB binary',
    description: '100 connections, 16 messages of 4 KiB in flight on each.',
    kind: 'echo',
    servers: ['tidewire', 'ws', 'net-raw', 'c-raw'],
    serverArgs: [],
    loadArgs: echoArgs(['-s', '4096']),
    metrics: [MSGS_PER_S],
  },
  {
    name: 'echo-1m',
    title: 'echo 1 MiB binary',
    description: '4 connections, 1 message of 1 MiB in flight on each.',
    kind: 'echo',
    servers: ['tidewire', 'ws', 'net-raw', 'c-raw'],
    serverArgs: [],
    loadArgs: echoArgs(['-s', String(1024 * 1024)], 4, 1),
    metrics: [MSGS_PER_S],
  },
  {
    name: 'json-deflate',
    title: 'echo JSON 256 B, permessage-deflate',
    description: 'JSON-shaped text of 256 B, 100 connections × 16 in flight, permessage-deflate negotiated and used in both directions (ws\'s threshold lowered to 128 B like tidewire\'s).',
    kind: 'echo',
    servers: ['tidewire', 'ws'],
    serverArgs: ['--deflate'],
    loadArgs: echoArgs(['-s', '256', '--json', '-z']),
    metrics: [MSGS_PER_S],
  },
  {
    name: 'idle-10k',
    title: 'idle 10,000 connections',
    description: 'Opens 10,000 connections (256 handshakes at a time, from 127.0.0.1-4) and holds them: handshakes/s, and the server\'s RSS and JS heap growth per connection (after a full GC).',
    kind: 'idle',
    servers: ['tidewire', 'ws'],
    serverArgs: [],
    loadArgs: (s) => ['-c', s.smoke ? '200' : '10000', '-n', '4', '-H', s.smoke ? '2' : '4', '--timeout', '120'],
    metrics: IDLE_METRICS,
  },
  {
    name: 'fanout-1k-d1',
    title: 'fanout to 1,000, 1 in flight',
    description: '1,000 subscribers; a publisher sends 64 B messages, the server broadcasts each to every client; the next goes out once every subscriber had the previous one.',
    kind: 'fanout',
    servers: ['tidewire', 'ws'],
    serverArgs: [],
    loadArgs: fanoutArgs(1000, 1, 300),
    warmupArgs: fanoutWarmup(1),
    metrics: [DELIVERIES_PER_S],
  },
  {
    name: 'fanout-1k-d10',
    title: 'fanout to 1,000, 10 in flight',
    description: 'As fanout-1k-d1 with 10 broadcasts in flight.',
    kind: 'fanout',
    servers: ['tidewire', 'ws'],
    serverArgs: [],
    loadArgs: fanoutArgs(1000, 10, 1000),
    warmupArgs: fanoutWarmup(10),
    metrics: [DELIVERIES_PER_S],
  },
  {
    name: 'fanout-10k-d1',
    title: 'fanout to 10,000, 1 in flight',
    description: '10,000 subscribers, 1 broadcast in flight.',
    kind: 'fanout',
    servers: ['tidewire', 'ws'],
    serverArgs: [],
    loadArgs: fanoutArgs(10_000, 1, 30),
    warmupArgs: fanoutWarmup(1),
    metrics: [DELIVERIES_PER_S],
  },
  {
    name: 'fanout-10k-d10',
    title: 'fanout to 10,000, 10 in flight',
    description: '10,000 subscribers, 10 broadcasts in flight.',
    kind: 'fanout',
    servers: ['tidewire', 'ws'],
    serverArgs: [],
    loadArgs: fanoutArgs(10_000, 10, 100),
    warmupArgs: fanoutWarmup(10),
    metrics: [DELIVERIES_PER_S],
  },
];

/** The server program of a scenario's server. */
export function serverSpec(scenario: Scenario, id: ServerId): ServerSpec {
  const label = SERVER_LABELS[id];
  switch (id) {
    case 'tidewire':
      return { id, label, program: scenario.kind === 'fanout' ? 'tidewire-fanout.mjs' : 'tidewire-echo.mjs', raw: false };
    case 'ws':
      return { id, label, program: scenario.kind === 'fanout' ? 'ws-fanout.mjs' : 'ws-echo.mjs', raw: false };
    case 'net-raw':
      return { id, label, program: 'net-raw-echo.mjs', raw: true };
    case 'c-raw':
      return { id, label, program: 'rawecho', raw: true };
    default: {
      const exhaustive: never = id;
      throw new Error(`unknown server ${String(exhaustive)}`);
    }
  }
}

/** The goals, each a ratio against ws measured in the same run, or an absolute bound. */
export interface Goal {
  title: string;
  scenario: string;
  metric: string;
  /** 'ratio': tidewire ÷ ws at least `target`; 'max': tidewire's value at most `target`. */
  type: 'ratio' | 'max';
  target: number;
  targetText: string;
}

export const GOALS: Goal[] = [
  { title: 'echo 32 B', scenario: 'echo-32', metric: 'msgs_per_s', type: 'ratio', target: 8.6, targetText: '≥ 8.6× ws' },
  { title: 'echo 4 KiB', scenario: 'echo-4k', metric: 'msgs_per_s', type: 'ratio', target: 3.2, targetText: '≥ 3.2× ws' },
  { title: 'echo 1 MiB', scenario: 'echo-1m', metric: 'msgs_per_s', type: 'ratio', target: 2.2, targetText: '≥ 2.2× ws' },
  { title: 'idle RSS per connection', scenario: 'idle-10k', metric: 'rss_per_conn', type: 'max', target: 2048, targetText: '≤ 2 KB (2,048 B)' },
  { title: 'handshakes/s', scenario: 'idle-10k', metric: 'handshakes_per_s', type: 'ratio', target: 2.3, targetText: '≥ 2.3× ws' },
  { title: 'fanout 10k subscribers, 10 in flight', scenario: 'fanout-10k-d10', metric: 'deliveries_per_s', type: 'ratio', target: 9, targetText: '≥ 9× ws' },
  { title: 'JSON 256 B with deflate', scenario: 'json-deflate', metric: 'msgs_per_s', type: 'ratio', target: 3, targetText: '≥ 3× ws (both with deflate)' },
];
