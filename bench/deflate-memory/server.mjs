// One echo server with permessage-deflate for bench/deflate-memory: tidewire or ws, with context
// takeover (the default) or without it in both directions. Answers { type: 'memory' } over IPC with
// its RSS after a full GC. Usage: node --expose-gc server.mjs tidewire|ws takeover|reset

const [kind, mode] = process.argv.slice(2);
const perMessageDeflate = mode === 'reset' ? { serverNoContextTakeover: true, clientNoContextTakeover: true } : true;
const options = { port: 0, host: '127.0.0.1', perMessageDeflate };
let wss;
if (kind === 'tidewire') {
  const { WebSocketServer } = await import(process.env.BENCH_TIDEWIRE_DIST ?? 'tidewire');
  wss = new WebSocketServer({ ...options, heartbeatIntervalMs: 0 });
} else {
  const { WebSocketServer } = await import('ws');
  // ws compresses from 1 KiB by default; tidewire from 128 B: the same threshold for both.
  wss = new WebSocketServer({ ...options, perMessageDeflate: { ...(mode === 'reset' ? perMessageDeflate : {}), threshold: 128 } });
}
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
wss.on('listening', () => process.send({ type: 'ready', port: wss.address().port }));
process.on('message', (message) => {
  if (message.type !== 'memory') return;
  globalThis.gc();
  process.send({ type: 'memory', rss: process.memoryUsage().rss });
});
process.on('disconnect', () => process.exit(0));
