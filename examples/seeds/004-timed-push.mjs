// Seed 004, server.js after "服务端定时发送": the server sends the time every second.
// Changed from the article: the import, the port (PORT from the environment) and express → node:http
// (see 004-echo-server.mjs). As in the article, the interval is never cleared: after a client
// leaves, its timer keeps calling send() on a closed socket, which must be harmless (as with ws).
import http from 'node:http';
import { WebSocketServer as SocketServer } from 'tidewire';

//指定开启的端口号
const PORT = Number(process.env.PORT ?? 3000);

// 创建express，绑定监听3000端口，且设定开启后在consol中提示
const server = http
  .createServer((req, res) => res.writeHead(404).end())
  .listen(PORT, () => console.log(`Listening on ${PORT}`));

// 将express交给SocketServer开启WebSocket的服务
const wss = new SocketServer({ server });

//当WebSocket从外部连接时执行
wss.on('connection', (ws) => {
  //连接时执行此 console 提示
  console.log('Client connected');

  //固定发送最新消息给客户端
  const sendNowTime = setInterval(() => {
    ws.send(String(new Date()));
  }, 1000);

  //当 WebSocket的连接关闭时执行
  ws.on('close', () => {
    console.log('Close connected');
  });
});
