// Socket.IO fanout server for bench/realtime: websocket transport only, no per-message deflate
// (the default). Same trigger as tidewire-realtime.mjs: `POST /publish?m=M&bytes=B` emits M
// messages { seq, pad } with `io.emit('fan', payload)` (to every connected client) and answers
// once they are all handed to the sockets. `&pace=turn`: one emit per event-loop turn (setImmediate
// in between), as in tidewire-realtime.mjs.
// Usage: node bench/realtime/fanout-servers/socketio.mjs   (prints {"port":N} on stdout)

import http from 'node:http';
import { Server } from 'socket.io';

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method !== 'POST' || url.pathname !== '/publish') {
    res.writeHead(404).end();
    return;
  }
  const m = Number(url.searchParams.get('m') ?? 1);
  const pad = 'x'.repeat(Number(url.searchParams.get('bytes') ?? 32));
  const onePerTurn = url.searchParams.get('pace') === 'turn';
  req.resume();
  void (async () => {
    const started = process.hrtime.bigint();
    for (let seq = 0; seq < m; seq++) {
      io.emit('fan', { seq, pad });
      if (onePerTurn) await new Promise((resolve) => setImmediate(resolve));
    }
    const publishMs = Number(process.hrtime.bigint() - started) / 1e6;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ published: m, publishMs }));
  })();
});

const io = new Server(server, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });

server.listen(Number(process.env.BENCH_PORT ?? 0), process.env.BENCH_HOST ?? '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
