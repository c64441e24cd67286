// ws echo server (the baseline): ws 8 with bufferutil, the same one-line handler as tidewire's.
// With --deflate, ws's compression threshold is lowered from its default 1024 bytes to tidewire's
// default 128, so that both servers compress the 256-byte JSON replies (deflate on both sides).
// Usage: node bench/servers/ws-echo.mjs [--deflate]

import { WebSocketServer } from 'ws';
import { MAX_PAYLOAD_BYTES, hasFlag, ignore, reportReady } from './harness-link.mjs';

const wss = new WebSocketServer({
  port: Number(process.env.BENCH_PORT ?? 0),
  host: '127.0.0.1',
  perMessageDeflate: hasFlag('--deflate') ? { threshold: 128 } : false,
  maxPayload: MAX_PAYLOAD_BYTES,
});

wss.on('connection', (socket) => {
  socket.on('error', ignore);
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
});
wss.on('listening', () => reportReady(wss.address().port));
