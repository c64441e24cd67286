// ws fanout server (the baseline): every message received is sent to every open client, the
// sender included, by looping over wss.clients as ws's README does.
// Usage: node bench/servers/ws-fanout.mjs

import { WebSocket, WebSocketServer } from 'ws';
import { ignore, reportReady } from './harness-link.mjs';

const wss = new WebSocketServer({ port: Number(process.env.BENCH_PORT ?? 0), host: '127.0.0.1' });

wss.on('connection', (socket) => {
  socket.on('error', ignore);
  socket.on('message', (data, isBinary) => {
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
});
wss.on('listening', () => reportReady(wss.address().port));
