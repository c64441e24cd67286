// The framing-free limit in Node: a plain `net` echo of length-prefixed messages (4-byte
// big-endian length, then the payload: the protocol of `wsload raw`). Like rawecho.c it writes
// once per read: every complete message of a read goes back in one write, as a view of the read.
// Usage: node bench/servers/net-raw-echo.mjs

import net from 'node:net';
import { ignore, reportReady } from './harness-link.mjs';

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', ignore);
  let pending = []; // chunks of an incomplete message (pending[0] starts with its length prefix)
  let pendingBytes = 0;
  let needBytes = 4; // bytes that complete the message at the head of `pending`

  socket.on('data', (chunk) => {
    let input = chunk;
    if (pendingBytes > 0) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes < needBytes) return;
      input = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
    }
    let end = 0;
    while (input.length - end >= 4) {
      const size = 4 + input.readUInt32BE(end);
      if (input.length - end < size) break;
      end += size;
    }
    if (end > 0) socket.write(end === input.length ? input : input.subarray(0, end));
    if (end < input.length) {
      const rest = input.subarray(end);
      pending = [rest];
      pendingBytes = rest.length;
      needBytes = rest.length >= 4 ? 4 + rest.readUInt32BE(0) : 4;
    }
  });
});

server.listen(Number(process.env.BENCH_PORT ?? 0), '127.0.0.1', () => reportReady(server.address().port));
