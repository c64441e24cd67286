// tidewire fanout server: every message received is broadcast to every client (the sender
// included) with wss.broadcast, which frames it once for all receivers. The protocol of
// `wsload fanout`: the publisher's messages come back to each subscriber, in order.
// Usage: node bench/servers/tidewire-fanout.mjs

import { ignore, reportReady } from './harness-link.mjs';

// The harness passes a snapshot of dist/ taken when the suite started (a rebuild by someone else
// in the middle of a suite must not change the code under test); by hand, the package itself.
const { WebSocketServer } = await import(process.env.BENCH_TIDEWIRE_DIST ?? 'tidewire');

const wss = new WebSocketServer({
  port: Number(process.env.BENCH_PORT ?? 0),
  host: '127.0.0.1',
  heartbeatIntervalMs: 0,
});

wss.on('connection', (ws) => {
  ws.on('error', ignore);
  ws.on('message', (data, isBinary) => wss.broadcast(data, { binary: isBinary }));
});
wss.on('listening', () => reportReady(wss.address().port));
