// tidewire messaging-layer fanout server for bench/realtime: a RealtimeServer (MemoryBroker,
// heartbeat off) on an http server. Subscribers speak the JSON envelope on /realtime and subscribe
// to `fan`. The trigger is the same for both servers: `POST /publish?m=M&bytes=B` issues M
// publications { seq, pad } to `fan` back to back (as Socket.IO's M `io.emit` calls): all M
// `rt.publish` calls are started, then awaited together. The broker still orders them (offsets in
// call order) and every subscriber gets them in that order. It answers once all are accepted.
// `&pace=turn` instead issues one publication per event-loop turn (setImmediate in between), in
// both servers: nothing can be gathered across publications then.
// Usage: node bench/realtime/fanout-servers/tidewire-realtime.mjs   (prints {"port":N} on stdout)

import http from 'node:http';

// BENCH_TIDEWIRE_DIST: a file: URL of a snapshot of dist/index.js (see bench/realtime/run.ts).
const { RealtimeServer, MemoryBroker } = await import(process.env.BENCH_TIDEWIRE_DIST ?? '../../../dist/index.js');

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
    const accepted = [];
    for (let seq = 0; seq < m; seq++) {
      accepted.push(rt.publish('fan', { seq, pad }));
      if (onePerTurn) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(accepted);
    const publishMs = Number(process.hrtime.bigint() - started) / 1e6;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ published: m, publishMs }));
  })().catch((error) => {
    res.writeHead(500).end(String(error));
  });
});

const rt = new RealtimeServer({
  server,
  broker: new MemoryBroker(),
  heartbeatIntervalMs: 0,
  // 10,000 subscribers arrive at once; nothing here should refuse them.
  maxOutboundBytes: 64 * 1024 * 1024,
});
rt.on('error', () => {});

server.listen(Number(process.env.BENCH_PORT ?? 0), process.env.BENCH_HOST ?? '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
