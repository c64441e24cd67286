// What permessage-deflate costs a server in memory when many connections talk now and then: N
// connections open, then each sends one compressible message and gets its echo, at R messages a
// second, so only a few seconds' worth of connections are active at any time. Reported: the
// server's RSS growth (after a full GC) divided by the connections, for tidewire and ws, each with
// context takeover (the default) and without it in both directions; runs interleaved, medians.
// Usage: node bench/deflate-memory/run.mjs [--connections 2000] [--rate 200] [--runs 3]

import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { connections: { type: 'string', default: '2000' }, rate: { type: 'string', default: '200' }, runs: { type: 'string', default: '3' } } });
const CONNECTIONS = Number(values.connections);
const RATE = Number(values.rate);
const RUNS = Number(values.runs);
const MESSAGE = JSON.stringify({ type: 'chat', room: 'lobby', text: 'hello there, this is a message of some length '.repeat(6) });
const SERVERS = [['tidewire', 'takeover'], ['tidewire', 'reset'], ['ws', 'takeover'], ['ws', 'reset']];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function startServer(kind, mode) {
  const child = fork(path.join(HERE, 'server.mjs'), [kind, mode], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const answers = [];
  child.on('message', (message) => answers.shift()?.(message));
  const next = () => new Promise((resolve) => answers.push(resolve));
  return {
    ready: next().then((message) => message.port),
    async rss() {
      const answer = next();
      child.send({ type: 'memory' });
      return (await answer).rss;
    },
    stop: () => child.kill(),
  };
}

async function openAll(port) {
  const sockets = [];
  for (let i = 0; i < CONNECTIONS; i += 200) {
    const batch = Array.from({ length: Math.min(200, CONNECTIONS - i) }, () => new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    }));
    sockets.push(...(await Promise.all(batch)));
  }
  return sockets;
}

async function run(kind, mode) {
  const server = startServer(kind, mode);
  const port = await server.ready;
  const before = await server.rss();
  const sockets = await openAll(port);
  const echoed = sockets.map((ws) => new Promise((resolve) => ws.once('message', resolve)));
  const tick = 100;
  const perTick = Math.max(1, Math.round((RATE * tick) / 1000));
  for (let i = 0; i < sockets.length; i += perTick) {
    for (const ws of sockets.slice(i, i + perTick)) ws.send(MESSAGE);
    await sleep(tick);
  }
  await Promise.all(echoed);
  const after = await server.rss();
  for (const ws of sockets) ws.terminate();
  server.stop();
  return (after - before) / CONNECTIONS;
}

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const results = new Map(SERVERS.map(([kind, mode]) => [`${kind} ${mode}`, []]));
for (let round = 1; round <= RUNS; round++) {
  for (const [kind, mode] of SERVERS) {
    const perConnection = await run(kind, mode);
    results.get(`${kind} ${mode}`).push(perConnection);
    process.stderr.write(`round ${round}: ${kind} ${mode}: ${(perConnection / 1024).toFixed(1)} KB per connection\n`);
  }
}
console.log(`\n${new Date().toISOString()}: ${CONNECTIONS} connections, one ${MESSAGE.length} B message each at ${RATE}/s, ${RUNS} interleaved runs (medians)\n`);
console.log('| server | context takeover | RSS growth per connection | ÷ ws, same setting |');
console.log('|---|---|--:|--:|');
for (const [kind, mode] of SERVERS) {
  const value = median(results.get(`${kind} ${mode}`));
  const ws = median(results.get(`ws ${mode}`));
  console.log(`| ${kind} | ${mode === 'takeover' ? 'yes (default)' : 'no, both directions'} | ${(value / 1024).toFixed(1)} KB | ${(value / ws).toFixed(2)}× |`);
}
