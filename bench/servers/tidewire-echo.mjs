// tidewire echo server under test: the built dist/ through the package self-reference, with the
// handler of `tidewire echo` (one line, no copies) and the heartbeat off.
// Usage: node bench/servers/tidewire-echo.mjs [--deflate]

import { WebSocketServer } from 'tidewire';
import { MAX_PAYLOAD_BYTES, hasFlag, ignore, reportReady } from './harness-link.mjs';

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
