// tidewire echo server under test: the built dist/ (the package's own name `tidewire`), with the
// handler of `tidewire echo` (one line, no copies) and the heartbeat off.
// Usage: node bench/servers/tidewire-echo.mjs [--deflate]

import { MAX_PAYLOAD_BYTES, hasFlag, ignore, reportReady } from './harness-link.mjs';

// The harness passes a snapshot of dist/ taken when the suite started (a rebuild by someone else
// in the middle of a suite must not change the code under test); by hand, the package itself.
const { WebSocketServer } = await import(process.env.BENCH_TIDEWIRE_DIST ?? 'tidewire');

const wss = new WebSocketServer({
  port: Number(process.env.BENCH_PORT ?? 0),
  host: '127.0.0.1',
  perMessageDeflate: hasFlag('--deflate'),
  maxPayload: MAX_PAYLOAD_BYTES,
  heartbeatIntervalMs: 0,
});

wss.on('connection', (ws) => {
  ws.on('error', ignore);
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on('listening', () => reportReady(wss.address().port));
